/* Refuge: the organisation's recovery kit, made and used in this browser (DESIGN §3).
 *
 * recovery key = 20 random bytes in Crockford base32 (32 symbols, 160 bits), shown in eight
 *                groups of four; read back upper-cased, without spaces or dashes, O as 0, I/L as 1.
 * kit keypair  = crypto_box_seed_keypair(crypto_generichash(32, "refuge-recovery-kit-v1:" +
 *                normalised key)) — intake.crypto.recovery_keypair derives the same.
 * The kit holds each organisation secret key sealed (crypto_box_seal) to the kit's public key.
 * Only the public key and the sealed copies are posted; the recovery key never leaves here: the
 * inputs that take it have no name, and what is posted is computed from it.
 *
 * window.Refuge.recovery.prepareForSetup(form, [{orgPublicKey, orgSecret}]) — setup.js: fills
 *   the kit's fields of the setup form, shows the key and resolves once the admin typed its last
 *   two groups back.
 * form[data-make-kit]    /admin/keys: a new kit of every key this admin's keyring opens.
 * form[data-recover]     /recover: opens the kit's copies, grants them to this admin's own key,
 *                        and shows the new kit that replaces the used one.
 * [data-recovery-panel]  where a new key is shown (print, download, confirmation).
 */
(function () {
  "use strict";
  const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford: no I, L, O, U
  const KEY_BYTES = 20;
  const GROUP = 4;
  const SYMBOLS = 32;
  const CONTEXT = "refuge-recovery-kit-v1:";
  const CONFIRM_SYMBOLS = 2 * GROUP; // the last two groups are typed back
  // What may stand between the groups, as a receipt code's (crypto.CODE_SEPARATOR_CLASS, the
  // same text: a test compares): spaces, zero-width characters, a phone's "smart" dashes.
  const SEPARATORS = /[\t\n\v\f\r\u0020\u0085\u00a0\u1680\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff\-\u00ad\u2010-\u2015\u2212\ufe58\ufe63\uff0d]+/g;

  /* The symbols typed, as the key is read: full-width forms as ASCII, no separators, upper
   * case, O as 0 and I/L as 1. */
  function symbolsOf(text) {
    return String(text || "")
      .normalize("NFKC")
      .replace(SEPARATORS, "")
      .toUpperCase()
      .replace(/O/g, "0")
      .replace(/[IL]/g, "1");
  }

  const staff = window.Refuge.staff;

  function encode(bytes) {
    let bits = 0;
    let value = 0;
    let out = "";
    for (let i = 0; i < bytes.length; i += 1) {
      value = (value << 8) | bytes[i];
      bits += 8;
      while (bits >= 5) {
        out += ALPHABET.charAt((value >>> (bits - 5)) & 31);
        bits -= 5;
      }
    }
    return out; // 20 bytes are exactly 32 symbols: no leftover bits
  }

  function group(symbols) {
    const groups = [];
    for (let i = 0; i < symbols.length; i += GROUP) {
      groups.push(symbols.slice(i, i + GROUP));
    }
    return groups.join("-");
  }

  function normalise(text) {
    const cleaned = symbolsOf(text);
    if (cleaned.length !== SYMBOLS) {
      return null;
    }
    for (let i = 0; i < cleaned.length; i += 1) {
      if (ALPHABET.indexOf(cleaned.charAt(i)) === -1) {
        return null;
      }
    }
    return cleaned;
  }

  async function newKit() {
    const keys = window.Refuge.keys;
    const s = await keys.ready();
    const random = s.randombytes_buf(KEY_BYTES);
    const symbols = encode(random);
    s.memzero(random);
    return { key: group(symbols), normalised: symbols, pair: keypair(s, symbols) };
  }

  function keypair(s, normalised) {
    const seed = s.crypto_generichash(32, s.from_string(CONTEXT + normalised));
    const pair = s.crypto_box_seed_keypair(seed);
    s.memzero(seed);
    return pair;
  }

  function text(node, name, fallback) {
    return node && node.dataset[name] ? node.dataset[name] : fallback;
  }

  /* Show `kit` in the panel; resolves when its last two groups were typed back. */
  function showKit(panel, kit) {
    const keyNode = panel.querySelector("[data-recovery-key]");
    // Each group unbroken; a narrow screen wraps only between groups (after the hyphen).
    keyNode.replaceChildren();
    kit.key.split("-").forEach((symbols, index) => {
      if (index > 0) {
        keyNode.append("-", document.createElement("wbr"));
      }
      const groupNode = document.createElement("span");
      groupNode.textContent = symbols;
      keyNode.append(groupNode);
    });
    const download = panel.querySelector("[data-recovery-download]");
    if (download) {
      const body = text(panel, "fileIntro", "Refuge recovery key") + "\n\n" + kit.key + "\n";
      download.href = URL.createObjectURL(new Blob([body], { type: "text/plain" }));
      download.download = "refuge-recovery-key.txt";
    }
    const print = panel.querySelector("[data-recovery-print]");
    if (print) {
      print.addEventListener("click", function () {
        window.print();
      });
    }
    panel.hidden = false;
    // While it is shown the header's language links give way (styles) and leaving asks first:
    // a language link reloaded /setup empty, and the next try drew another key, so that a
    // printed or downloaded first one opened nothing.
    document.body.classList.add("showing-recovery-key");
    window.addEventListener("beforeunload", askBeforeLeaving);
    panel.scrollIntoView({ block: "start" });
    const form = panel.querySelector("[data-recovery-confirm]");
    const input = form.querySelector("input");
    const problem = form.querySelector("[data-recovery-confirm-error]");
    input.focus();
    return new Promise(function (resolve) {
      form.addEventListener("submit", function onSubmit(event) {
        event.preventDefault();
        const typed = symbolsOf(input.value);
        if (typed !== kit.normalised.slice(-CONFIRM_SYMBOLS)) {
          problem.hidden = false;
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return;
        }
        form.removeEventListener("submit", onSubmit);
        problem.hidden = true;
        input.removeAttribute("aria-invalid");
        input.value = "";
        form.querySelector("button[type=submit]").disabled = true;
        resolve();
      });
    });
  }

  function askBeforeLeaving(event) {
    event.preventDefault();
    event.returnValue = ""; // older browsers need it set to ask
    return "";
  }

  function forget(panel, kit) {
    panel.querySelector("[data-recovery-key]").textContent = "";
    document.body.classList.remove("showing-recovery-key");
    window.removeEventListener("beforeunload", askBeforeLeaving);
    panel.hidden = true;
    if (kit && window.sodium) {
      window.sodium.memzero(kit.pair.privateKey);
    }
  }

  // --- /setup ---------------------------------------------------------------------------------

  async function prepareForSetup(form, orgs) {
    const panel = document.querySelector("[data-recovery-panel]");
    if (!panel) {
      return; // a page without a kit: the admin pages will ask for one
    }
    const keys = window.Refuge.keys;
    const kit = await newKit();
    staff.setField(form, "kit_public_key", keys.toB64(kit.pair.publicKey));
    staff.setField(form, "kit_sealed_org_secret", window.Refuge.sealed.sealBytes(orgs[0].orgSecret, kit.pair.publicKey));
    const status = form.querySelector("[data-keygen-status]");
    if (status) {
      status.textContent = "";
    }
    form.hidden = true;
    await showKit(panel, kit);
    forget(panel, kit);
    form.hidden = false;
    if (status) {
      status.textContent = form.dataset.textWorking || "";
    }
  }

  // --- /admin/keys: a new kit -----------------------------------------------------------------

  function showError(node, message) {
    if (node) {
      node.textContent = message;
      node.hidden = false;
    }
  }

  async function confirmOnServer(url, kitId) {
    await staff.postFields(url.replace("/0/", "/" + String(kitId) + "/"), {});
  }

  function wireMakeKit(form) {
    const errorNode = form.querySelector("[data-kit-error]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      errorNode.hidden = true;
      const ring = window.RefugeKeyring;
      if (!ring || !ring.isUnlocked()) {
        showError(errorNode, text(form, "textLocked", "Unlock your keys first."));
        return;
      }
      const keys = window.Refuge.keys;
      let kit = null;
      let panel = null;
      try {
        const ids = JSON.parse(form.dataset.heldKeyIds || "[]");
        kit = await newKit();
        const seals = [];
        for (let i = 0; i < ids.length; i += 1) {
          const pair = await ring.orgKeyPair(Number(ids[i]));
          if (pair) {
            seals.push({ org_key_id: Number(ids[i]), sealed_org_secret: window.Refuge.sealed.sealBytes(pair.privateKey, kit.pair.publicKey) });
            window.sodium.memzero(pair.privateKey);
          }
        }
        const answer = await staff.postFields(form.action, {
          kit_public_key: keys.toB64(kit.pair.publicKey),
          seals: JSON.stringify(seals),
        });
        form.hidden = true;
        panel = document.querySelector("[data-recovery-panel]");
        await showKit(panel, kit);
        await confirmOnServer(form.dataset.confirmUrl, answer.kit_id);
        forget(panel, kit);
        window.location.assign(window.location.pathname + "?kit=confirmed");
      } catch (error) {
        const message = error && error.answer && error.answer.message;
        if (panel && kit) {
          forget(panel, kit); // a refused kit's key (set aside after an hour) opens nothing
        }
        form.hidden = false;
        showError(errorNode, message || text(form, "textFailed", "The kit could not be made."));
      }
    });
  }

  // --- /recover -------------------------------------------------------------------------------

  async function recover(form) {
    const keys = window.Refuge.keys;
    const s = await keys.ready();
    const input = form.querySelector("input[data-recovery-input]");
    const normalised = normalise(input.value);
    if (!normalised) {
      throw Object.assign(new Error("format"), { code: "textFormat" });
    }
    const data = await staff.fetchJson(form.dataset.kitUrl);
    const pair = keypair(s, normalised);
    if (keys.toB64(pair.publicKey) !== data.kit_public_key) {
      s.memzero(pair.privateKey);
      throw Object.assign(new Error("wrong key"), { code: "textWrongKey" });
    }
    let proof;
    try {
      // Shows the server this browser holds the recovery key: it cannot open the grants.
      proof = s.to_string(s.crypto_box_seal_open(keys.fromB64(data.proof), pair.publicKey, pair.privateKey));
    } catch (e) {
      s.memzero(pair.privateKey);
      throw Object.assign(new Error("proof"), { code: "textFailed" });
    }
    const next = await newKit();
    const grants = [];
    const newSeals = [];
    try {
      data.seals.forEach(function (seal) {
        const secret = s.crypto_box_seal_open(keys.fromB64(seal.sealed_org_secret), pair.publicKey, pair.privateKey);
        if (keys.toB64(s.crypto_scalarmult_base(secret)) !== seal.org_public_key) {
          s.memzero(secret);
          throw Object.assign(new Error("mismatch"), { code: "textFailed" });
        }
        grants.push({ org_key_id: seal.org_key_id, sealed_org_secret: window.Refuge.sealed.sealBytes(secret, keys.fromB64(data.user_public_key)) });
        newSeals.push({ org_key_id: seal.org_key_id, sealed_org_secret: window.Refuge.sealed.sealBytes(secret, next.pair.publicKey) });
        s.memzero(secret);
      });
    } finally {
      s.memzero(pair.privateKey);
    }
    const answer = await staff.postFields(form.action, {
      kit_id: String(data.kit_id),
      proof: proof,
      grants: JSON.stringify(grants),
      sealed_to: data.user_public_key,
      new_kit_public_key: keys.toB64(next.pair.publicKey),
      new_kit_seals: JSON.stringify(newSeals),
    });
    input.value = "";
    return { kit: next, kitId: answer.kit_id };
  }

  function wireRecover(form) {
    const errorNode = form.querySelector("[data-recover-error]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      errorNode.hidden = true;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      let result;
      try {
        result = await recover(form);
      } catch (error) {
        const message = error && error.answer && error.answer.message;
        showError(errorNode, message || text(form, error && error.code ? error.code : "textFailed", "Could not recover."));
        button.disabled = false;
        return;
      }
      form.hidden = true;
      const panel = document.querySelector("[data-recovery-panel]");
      await showKit(panel, result.kit);
      try {
        await confirmOnServer(form.dataset.confirmUrl, result.kitId);
      } catch (e) {
        /* the kit stays unconfirmed: the admin pages keep asking for one */
      }
      forget(panel, result.kit);
      const done = document.querySelector("[data-recover-done]");
      const ring = window.RefugeKeyring;
      if (ring && ring.isUnlocked() && ring.refresh) {
        await ring.refresh();
      }
      if (done) {
        done.hidden = false;
        const locked = done.querySelector("[data-recover-locked]");
        if (locked) {
          locked.hidden = Boolean(ring && ring.isUnlocked());
        }
        done.focus();
      }
    });
  }

  window.Refuge.recovery = Object.freeze({
    prepareForSetup: prepareForSetup,
    normalise: normalise,
  });

  document.querySelectorAll("form[data-make-kit]").forEach(wireMakeKit);
  document.querySelectorAll("form[data-recover]").forEach(wireRecover);
})();
