/*
 * Refuge referral page: the referral's note, opened and sealed in this browser (DESIGN §1.1, §1.3).
 *
 * The page (templates/referrals/_note.html) carries only the ciphertext, the id of the
 * organisation key it was sealed to, and the current organisation public key. The note is opened
 * with the key pair from window.RefugeKeyring and shown with textContent only; a new note is
 * sealed to the current public key before it leaves the page. The textarea has no name: only the
 * hidden sealed_note and org_key_id fields are posted (with the CSRF token).
 *
 * Format, the same as case notes (case-view.js, intake/crypto.py seal_answers/open_answers):
 *   base64 ORIGINAL( crypto_box_seal( sodium_pad( UTF-8 JSON {"body": text}, 1024 ), org key ) )
 *
 * Locking the keyring wipes the decrypted note from the page.
 */
(function () {
  "use strict";

  var root = document.getElementById("referral-note");
  if (!root) {
    return;
  }
  var BLOCK = 1024;
  var MAX_SEALED_BYTES = 65536; // intake.services.referrals.NOTE_MAX_BYTES

  var text = JSON.parse(document.getElementById("referral-note-strings").textContent);
  var notice = root.querySelector("[data-note-notice]");
  var output = root.querySelector("[data-note-text]");
  var empty = root.querySelector("[data-note-empty]");
  var sealedNote = root.getAttribute("data-sealed-note") || "";
  var noteKeyId = root.getAttribute("data-note-org-key-id") || "";
  var publicKey = root.getAttribute("data-public-key") || "";
  var currentKeyId = root.getAttribute("data-current-key-id") || "";
  var form = document.getElementById("referral-note-form");
  var area = form ? form.querySelector("textarea") : null;
  var button = form ? form.querySelector("button[type=submit]") : null;
  var error = form ? form.querySelector("[data-note-error]") : null;
  var buttonLabel = button ? button.textContent : "";
  var generation = 0;
  var saving = false;
  var edited = false; // the textarea holds their own words: never overwrite them

  function keyring() {
    return window.RefugeKeyring || null;
  }

  function setNotice(key, state) {
    notice.textContent = text[key];
    notice.setAttribute("data-state", state);
  }

  function setEditable(on) {
    if (form) {
      area.disabled = !on;
      button.disabled = !on;
    }
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  /* Forget everything decrypted: the note on the page and in the textarea. */
  function wipe() {
    generation += 1;
    output.textContent = "";
    output.hidden = true;
    empty.hidden = Boolean(sealedNote);
    if (form && !saving) {
      area.value = "";
      edited = false;
      error.hidden = true;
      setEditable(false);
    }
  }

  function openNote(pair) {
    var sealed = sodium.from_base64(sealedNote, sodium.base64_variants.ORIGINAL);
    var padded = sodium.crypto_box_seal_open(sealed, pair.publicKey, pair.privateKey);
    var value = JSON.parse(sodium.to_string(sodium.unpad(padded, BLOCK)));
    if (!value || typeof value !== "object" || typeof value.body !== "string") {
      throw new Error("not a note");
    }
    return value.body;
  }

  function sealNote(body) {
    var bytes = sodium.from_string(JSON.stringify({ body: body }));
    var key = sodium.from_base64(publicKey, sodium.base64_variants.ORIGINAL);
    return sodium.crypto_box_seal(sodium.pad(bytes, BLOCK), key);
  }

  async function render() {
    var ring = keyring();
    if (!ring) {
      wipe();
      setNotice("no_keyring", "locked");
      return;
    }
    if (!ring.isUnlocked()) {
      wipe();
      setNotice(form ? "locked" : "locked_read", "locked");
      return;
    }
    var mine = ++generation;
    var body = "";
    if (sealedNote) {
      setNotice("decrypting", "busy");
      var pair = null;
      try {
        pair = await ring.orgKeyPair(Number(noteKeyId));
      } catch (e) {
        pair = null;
      }
      if (mine !== generation) {
        return; // locked (or re-rendered) while we were waiting for the key
      }
      if (!pair) {
        // Never offer to overwrite a note its writer cannot read.
        setNotice(ring.isUnlocked() ? "no_key" : "locked", ring.isUnlocked() ? "error" : "locked");
        return;
      }
      try {
        body = openNote(pair);
      } catch (e) {
        setNotice("failed", "error");
        return;
      }
      output.textContent = body;
      output.hidden = body === "";
      empty.hidden = body !== "";
    }
    if (!form) {
      setNotice("ready_read", "unlocked");
      return;
    }
    if (!publicKey || !currentKeyId) {
      setNotice("no_org_key", "error");
      return;
    }
    if (!saving) {
      if (!edited) {
        area.value = body;
      }
      setEditable(true);
    }
    setNotice("ready_write", "unlocked");
  }

  /* A fresh CSRF token from this page (the old one expired while they were writing). */
  async function freshToken() {
    var response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok) {
      return null;
    }
    var page = new DOMParser().parseFromString(await response.text(), "text/html");
    var input = page.querySelector("#referral-note-form input[name=csrf_token]");
    return input ? input.value : null;
  }

  function post() {
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form), // csrf_token, sealed_note, org_key_id: the textarea has no name
      credentials: "same-origin",
      redirect: "manual",
      headers: { Accept: "application/json" },
    });
  }

  function accepted(response) {
    return response.type === "opaqueredirect" || (response.status >= 200 && response.status < 300);
  }

  /* null when the server took it, else the message to show beside the text. */
  async function submit() {
    var response = await post();
    if (!accepted(response) && response.status === 400) {
      var token = await freshToken();
      if (token) {
        form.elements.csrf_token.value = token;
        response = await post();
      }
    }
    if (accepted(response)) {
      return null;
    }
    try {
      var answer = await response.json();
      return answer && answer.error ? String(answer.error) : text.not_saved;
    } catch (e) {
      return text.not_saved;
    }
  }

  async function save(event) {
    event.preventDefault();
    var ring = keyring();
    if (saving || !ring || !ring.isUnlocked() || area.disabled) {
      return;
    }
    error.hidden = true;
    var sealed;
    try {
      sealed = sealNote(area.value);
    } catch (e) {
      showError(text.not_saved);
      return;
    }
    if (sealed.length > MAX_SEALED_BYTES) {
      showError(text.too_long);
      area.focus();
      return;
    }
    saving = true;
    button.disabled = true;
    button.textContent = text.sealing;
    form.elements.sealed_note.value = sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL);
    form.elements.org_key_id.value = currentKeyId;
    var problem;
    try {
      problem = await submit();
    } catch (e) {
      problem = text.not_saved;
    }
    form.elements.sealed_note.value = "";
    if (problem === null) {
      area.value = "";
      window.location.assign(window.location.pathname);
      return;
    }
    // Refused or offline: what they wrote stays in the box so nothing is lost.
    saving = false;
    button.textContent = buttonLabel;
    if (ring.isUnlocked()) {
      setEditable(true);
      showError(problem);
    } else {
      wipe(); // locked meanwhile: the plaintext goes, as everywhere else on the page
    }
  }

  function start() {
    if (form) {
      form.addEventListener("submit", save);
      area.addEventListener("input", function () {
        edited = true;
      });
    }
    var ring = keyring();
    if (ring && typeof ring.onChange === "function") {
      ring.onChange(function () {
        render();
      });
    }
    // Leaving the page (or the back-forward cache) must not keep the note around.
    window.addEventListener("pagehide", wipe);
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        render();
      }
    });
    render();
  }

  sodium.ready.then(start);
})();
