/*
 * Refuge referral page: the UN steps' sealed reply summaries, UN references and links
 * (DESIGN §1.1, §1.2, §1.3; issue 12). The UN publishes its communications, which name the
 * defender: a reference or link in the clear would tie the case to a named person.
 *
 * Reading: each [data-sealed-summary] and [data-sealed-fact] is opened with the organisation key
 * pair it was sealed to (window.RefugeKeyring via Refuge.staff) and shown with textContent only;
 * a link becomes an <a> only if it is an https address as the form takes it.
 * Writing: the "reply received" form's textarea has no name; on submit its text is sealed to the
 * current organisation public key, in the same format as referral notes
 *   base64 ORIGINAL( crypto_box_seal( sodium_pad( UTF-8 JSON {"body": text}, 1024 ), org key ) )
 * and only the ciphertext (hidden sealed_summary) and the key id are posted. An empty summary is
 * simply not sent: the date is still recorded, which also works without JavaScript.
 * The reference and link inputs have no name either: on submit each is checked as the server
 * once checked it (REFERENCE_PATTERN, valid_link), sealed the same way ({"body": text}, one
 * padded block) and posted as sealed_reference and sealed_link with the key id. A refused
 * step's sealed values come back (data-sealed-value) and are opened into their inputs again.
 * Locking the keyring wipes everything decrypted or typed.
 */
(function () {
  "use strict";

  const root = document.getElementById("un-steps");
  if (!root) {
    return;
  }
  const sealed = window.Refuge.sealed;
  const staff = window.Refuge.staff;
  const MAX_SEALED_BYTES = 65536; // intake.services.un_steps.SUMMARY_MAX_BYTES
  const MAX_FACT_BYTES = 1024 + 48; // intake.services.un_steps.FACT_MAX_BYTES: one padded block
  const REFERENCE_MAX = 40;
  const LINK_MAX = 500;
  // The UN's communication references: "AL CHN 3/2026", "UA CHN 12/2025", "JAL OTH 1/2026".
  const REFERENCE_PATTERN = /^[A-Z]{2,4} [A-Z]{3} [0-9]{1,4}\/(19|20)[0-9]{2}$/;
  // Not in a link: spaces, control characters, markup and quote signs, anything not ASCII.
  const LINK_REFUSED = /[^\x21-\x7e]|[<>"'\\`]/;
  const text = JSON.parse(document.getElementById("un-steps-strings").textContent);
  const publicKey = root.getAttribute("data-public-key") || "";
  const currentKeyId = root.getAttribute("data-current-key-id") || "";
  const form = root.querySelector("form[data-un-reply-form]");
  const area = form ? form.querySelector("[data-un-summary]") : null;
  const error = form ? form.querySelector("[data-un-summary-error]") : null;
  const factForms = Array.from(root.querySelectorAll("form[data-un-facts-form]"));
  // What a sealed reference or link says while locked ("UN reference (encrypted)").
  const placeholders = new Map(
    Array.from(root.querySelectorAll("[data-fact-notice]"), function (notice) {
      return [notice, notice.textContent];
    })
  );
  let generation = 0;

  /* The reference as the UN writes it (spaces collapsed, upper case), or null. */
  function validReference(value) {
    const reference = value.split(/\s+/).filter(Boolean).join(" ").toUpperCase();
    return reference.length <= REFERENCE_MAX && REFERENCE_PATTERN.test(reference)
      ? reference
      : null;
  }

  /* A public https address (a host with a dot, no user or password, a port 1-65535), or null. */
  function validLink(value) {
    const link = value.trim();
    if (!link || link.length > LINK_MAX || LINK_REFUSED.test(link) || !/^https:\/\//i.test(link)) {
      return null;
    }
    let url;
    try {
      url = new URL(link);
    } catch (e) {
      return null;
    }
    const host = url.hostname;
    if (
      url.protocol !== "https:" ||
      !host ||
      !host.includes(".") ||
      url.username ||
      url.password ||
      url.port === "0"
    ) {
      return null;
    }
    return link;
  }

  function factInputs() {
    return root.querySelectorAll("[data-un-fact]");
  }

  function unlocked() {
    const ring = staff.keyring();
    return Boolean(ring && ring.isUnlocked());
  }

  function wipe() {
    generation += 1;
    root.querySelectorAll("[data-sealed-summary]").forEach(function (box) {
      const output = box.querySelector("[data-summary-text]");
      output.textContent = "";
      output.hidden = true;
      box.querySelector("[data-summary-notice]").textContent = text.locked;
    });
    if (area) {
      area.value = "";
      area.disabled = true;
    }
    root.querySelectorAll("[data-sealed-fact]").forEach(function (box) {
      const output = box.querySelector("[data-fact-text]");
      output.replaceChildren();
      output.hidden = true;
      const notice = box.querySelector("[data-fact-notice]");
      notice.textContent = placeholders.get(notice);
      notice.hidden = false;
    });
    factInputs().forEach(function (input) {
      input.value = "";
      input.disabled = true;
    });
  }

  /* A link opened for the timeline: an <a> only if it is https as the form takes it. */
  function showFact(output, what, value) {
    if (what === "link" && validLink(value)) {
      const anchor = document.createElement("a");
      anchor.href = value;
      anchor.rel = "noopener noreferrer";
      anchor.textContent = value;
      output.replaceChildren(anchor);
    } else {
      output.textContent = value;
    }
  }

  async function openFacts(mine) {
    for (const box of root.querySelectorAll("[data-sealed-fact]")) {
      const notice = box.querySelector("[data-fact-notice]");
      const output = box.querySelector("[data-fact-text]");
      const pair = await staff.orgKeyPair(box.getAttribute("data-key-id") || "");
      if (mine !== generation) {
        return false;
      }
      let value = null;
      try {
        value = pair ? sealed.openBody(box.getAttribute("data-sealed"), pair) : null;
      } catch (e) {
        value = null;
      }
      if (value === null) {
        notice.textContent = text.fact_unreadable;
        continue;
      }
      showFact(output, box.getAttribute("data-sealed-fact"), value);
      output.hidden = false;
      notice.hidden = true;
    }
    for (const input of factInputs()) {
      input.disabled = !publicKey || !currentKeyId;
      const again = input.getAttribute("data-sealed-value");
      if (!again || input.value) {
        continue;
      }
      const pair = await staff.orgKeyPair(input.getAttribute("data-sealed-key-id") || "");
      if (mine !== generation) {
        return false;
      }
      try {
        input.value = pair ? sealed.openBody(again, pair) : "";
      } catch (e) {
        input.value = ""; // not something this page sealed: nothing to give back
      }
    }
    return true;
  }

  async function render() {
    if (!unlocked()) {
      wipe();
      return;
    }
    const mine = ++generation;
    if (area) {
      area.disabled = !publicKey || !currentKeyId;
    }
    if (!(await openFacts(mine))) {
      return;
    }
    for (const box of root.querySelectorAll("[data-sealed-summary]")) {
      const notice = box.querySelector("[data-summary-notice]");
      const output = box.querySelector("[data-summary-text]");
      const pair = await staff.orgKeyPair(box.getAttribute("data-summary-key-id") || "");
      if (mine !== generation) {
        return;
      }
      if (!pair) {
        notice.textContent = text.no_key;
        continue;
      }
      try {
        output.textContent = sealed.openBody(box.getAttribute("data-sealed-summary"), pair);
        output.hidden = false;
        notice.hidden = true;
      } catch (e) {
        notice.textContent = text.failed;
      }
    }
  }

  function seal(event) {
    error.hidden = true;
    area.removeAttribute("aria-invalid");
    form.elements.sealed_summary.value = "";
    if (!area.value) {
      return; // no summary: the date alone is recorded
    }
    event.preventDefault();
    if (staff.refusedTooLong(area)) {
      return; // said by the counter under the box
    }
    if (!unlocked() || !publicKey) {
      error.textContent = text.not_sealed;
      error.hidden = false;
      return;
    }
    let box;
    try {
      box = sealed.sealJsonBytes({ body: area.value }, publicKey);
    } catch (e) {
      error.textContent = text.not_sealed;
      error.hidden = false;
      return;
    }
    if (box.length > MAX_SEALED_BYTES) {
      error.textContent = text.too_long;
      error.hidden = false;
      return;
    }
    form.elements.sealed_summary.value = sealed.toBase64(box);
    form.elements.org_key_id.value = currentKeyId;
    form.submit(); // the textarea has no name: only the ciphertext leaves the page
  }

  function refuseFact(factForm, what, message) {
    const input = factForm.querySelector(`[data-un-fact="${what}"]`);
    const beside = factForm.querySelector(`[data-un-fact-error="${what}"]`);
    beside.textContent = message;
    beside.hidden = false;
    input.setAttribute("aria-invalid", "true");
    return input;
  }

  /* Check, seal and post a step's reference and link; only ciphertext leaves the page. */
  function sealFacts(event) {
    const factForm = event.currentTarget;
    event.preventDefault();
    const refused = [];
    const values = {};
    factForm.querySelectorAll("[data-un-fact]").forEach(function (input) {
      const what = input.getAttribute("data-un-fact");
      factForm.querySelector(`[data-un-fact-error="${what}"]`).hidden = true;
      input.removeAttribute("aria-invalid");
      factForm.elements[`sealed_${what}`].value = "";
      if (!input.value.trim() && !input.required) {
        return;
      }
      const value = what === "reference" ? validReference(input.value) : validLink(input.value);
      if (value === null) {
        refused.push(refuseFact(factForm, what, text[`${what}_invalid`]));
      } else {
        values[what] = value;
      }
    });
    if (refused.length) {
      refused[0].focus();
      return;
    }
    const sealing = Object.keys(values);
    if (sealing.length && (!unlocked() || !publicKey || !currentKeyId)) {
      refuseFact(factForm, sealing[0], text.fact_not_sealed);
      return;
    }
    for (const what of sealing) {
      let box;
      try {
        box = sealed.sealJsonBytes({ body: values[what] }, publicKey);
      } catch (e) {
        refuseFact(factForm, what, text.fact_not_sealed);
        return;
      }
      if (box.length > MAX_FACT_BYTES) {
        refuseFact(factForm, what, text.fact_too_long);
        return;
      }
      factForm.elements[`sealed_${what}`].value = sealed.toBase64(box);
    }
    factForm.elements.org_key_id.value = currentKeyId;
    factForm.submit(); // the inputs have no name: only the ciphertext leaves the page
  }

  function start() {
    if (form) {
      form.addEventListener("submit", seal);
    }
    factForms.forEach(function (factForm) {
      factForm.addEventListener("submit", sealFacts);
    });
    const ring = staff.keyring();
    if (ring && typeof ring.onChange === "function") {
      ring.onChange(function () {
        render();
      });
    }
    window.addEventListener("pagehide", wipe);
    render();
  }

  sodium.ready.then(start);
})();
