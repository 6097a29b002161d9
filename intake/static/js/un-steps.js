/*
 * Refuge referral page: the UN steps' sealed reply summaries (DESIGN §1.1, §1.3; issue 12).
 *
 * Reading: each [data-sealed-summary] is opened with the organisation key pair it was sealed to
 * (window.RefugeKeyring via Refuge.staff) and shown with textContent only.
 * Writing: the "reply received" form's textarea has no name; on submit its text is sealed to the
 * current organisation public key, in the same format as referral notes
 *   base64 ORIGINAL( crypto_box_seal( sodium_pad( UTF-8 JSON {"body": text}, 1024 ), org key ) )
 * and only the ciphertext (hidden sealed_summary) and the key id are posted. An empty summary is
 * simply not sent: the date is still recorded, which also works without JavaScript.
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
  const text = JSON.parse(document.getElementById("un-steps-strings").textContent);
  const publicKey = root.getAttribute("data-public-key") || "";
  const currentKeyId = root.getAttribute("data-current-key-id") || "";
  const form = root.querySelector("form[data-un-reply-form]");
  const area = form ? form.querySelector("[data-un-summary]") : null;
  const error = form ? form.querySelector("[data-un-summary-error]") : null;
  let generation = 0;

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
    const over = staff.tooLong(area);
    if (over) {
      staff.refuse(error, over, area);
      area.focus();
      return;
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

  function start() {
    if (form) {
      form.addEventListener("submit", seal);
    }
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
