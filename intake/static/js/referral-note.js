/*
 * Refuge referral page: the referral's note, opened and sealed in this browser (DESIGN §1.1, §1.3).
 *
 * The page (templates/referrals/_note.html) carries only the ciphertext, the id of the
 * organisation key it was sealed to, and the current organisation public key. The note is opened
 * with the key pair from window.RefugeKeyring and shown with textContent only; a new note is
 * sealed to the current public key before it leaves the page. The textarea has no name: only the
 * hidden sealed_note and org_key_id fields are posted (with the CSRF token).
 *
 * Format, the same as case notes (sealed.js, intake/crypto.py seal_answers/open_answers):
 *   base64 ORIGINAL( crypto_box_seal( sodium_pad( UTF-8 JSON {"body": text}, 1024 ), org key ) )
 *
 * Locking the keyring wipes the decrypted note from the page.
 */
(function () {
  "use strict";

  const root = document.getElementById("referral-note");
  if (!root) {
    return;
  }
  const sealed = window.Refuge.sealed;
  const staff = window.Refuge.staff;
  const MAX_SEALED_BYTES = 65536; // intake.services.referrals.NOTE_MAX_BYTES

  const text = JSON.parse(document.getElementById("referral-note-strings").textContent);
  const notice = root.querySelector("[data-note-notice]");
  const output = root.querySelector("[data-note-text]");
  const empty = root.querySelector("[data-note-empty]");
  const sealedNote = root.getAttribute("data-sealed-note") || "";
  const noteKeyId = root.getAttribute("data-note-org-key-id") || "";
  const publicKey = root.getAttribute("data-public-key") || "";
  const currentKeyId = root.getAttribute("data-current-key-id") || "";
  const form = document.getElementById("referral-note-form");
  const area = form ? form.querySelector("textarea") : null;
  const button = form ? form.querySelector("button[type=submit]") : null;
  const error = form ? form.querySelector("[data-note-error]") : null;
  const buttonLabel = button ? button.textContent : "";
  let generation = 0;
  let saving = false;
  let edited = false; // the textarea holds their own words: never overwrite them

  const setNotice = staff.noticeSetter(notice, text);

  function setEditable(on) {
    if (form) {
      area.disabled = !on;
      button.disabled = !on;
    }
  }

  function showError(message) {
    staff.refuse(error, message);
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

  async function render() {
    const ring = staff.keyring();
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
    const mine = ++generation;
    let body = "";
    if (sealedNote) {
      setNotice("decrypting", "busy");
      const pair = await staff.orgKeyPair(noteKeyId);
      if (mine !== generation) {
        return; // locked (or re-rendered) while we were waiting for the key
      }
      if (!pair) {
        // Never offer to overwrite a note its writer cannot read.
        setNotice(ring.isUnlocked() ? "no_key" : "locked", ring.isUnlocked() ? "error" : "locked");
        return;
      }
      try {
        body = sealed.openBody(sealedNote, pair);
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

  async function save(event) {
    event.preventDefault();
    const ring = staff.keyring();
    if (saving || !ring || !ring.isUnlocked() || area.disabled) {
      return;
    }
    error.hidden = true;
    if (staff.refusedTooLong(area)) {
      return; // said by the counter under the box
    }
    let note;
    try {
      note = sealed.sealJsonBytes({ body: area.value }, publicKey);
    } catch (e) {
      showError(text.not_saved);
      return;
    }
    if (note.length > MAX_SEALED_BYTES) {
      showError(text.too_long);
      area.focus();
      return;
    }
    saving = true;
    button.disabled = true;
    button.textContent = text.sealing;
    form.elements.sealed_note.value = sealed.toBase64(note);
    form.elements.org_key_id.value = currentKeyId;
    let problem;
    try {
      problem = await staff.postWithFreshCsrf(form, text.not_saved);
    } catch (e) {
      problem = text.not_saved;
    }
    form.elements.sealed_note.value = "";
    if (problem === null) {
      area.value = "";
      staff.reloadAtSavedPlace();
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
    const ring = staff.keyring();
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
