/* First run (/setup) and invite links (/auth/enrol/…): the browser makes the keys.
 *
 * form[data-keygen="user"]      a staff X25519 keypair; its secret is wrapped with the password
 *                               (Refuge.keys.wrapSecret: Argon2id + secretbox, keyring.js).
 * form[data-keygen="user+org"]  also the organisation keypair, whose secret is sealed to the
 *                               new staff public key (the first key grant).
 * Only public keys and the wrapped / sealed blobs are posted; raw secrets never leave here.
 */
(function () {
  "use strict";
  const staff = window.Refuge.staff;
  const setField = staff.setField;

  async function makeKeys(form, password) {
    const keys = window.Refuge.keys;
    const sodium = await keys.ready();
    const ops = form.dataset.opsLimit;
    const mem = form.dataset.memLimit;
    const staffPair = await keys.newKeyPair();
    const wrapped = await keys.wrapSecret(staffPair.privateKey, password, ops, mem);
    setField(form, "public_key", keys.toB64(staffPair.publicKey));
    setField(form, "wrapped_secret_key", wrapped.wrapped);
    setField(form, "key_salt", wrapped.salt);
    setField(form, "ops_limit", String(ops));
    setField(form, "mem_limit", String(mem));
    if (form.dataset.keygen === "user+org") {
      const org = await keys.newKeyPair();
      setField(form, "org_public_key", keys.toB64(org.publicKey));
      setField(form, "sealed_org_secret", window.Refuge.sealed.sealBytes(org.privateKey, staffPair.publicKey));
      sodium.memzero(org.privateKey);
    }
    sodium.memzero(staffPair.privateKey);
  }

  function wire(form) {
    const status = form.querySelector("[data-keygen-status]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const password = form.querySelector("input[name='password']").value;
      const confirm = form.querySelector("input[name='confirm']").value;
      const button = form.querySelector("button[type=submit]");
      if (password && password === confirm) {
        if (button) {
          button.disabled = true;
        }
        if (status) {
          status.textContent = form.dataset.textWorking || "";
        }
        await staff.afterPaint();
        try {
          await makeKeys(form, password);
        } catch (error) {
          if (status) {
            status.textContent = form.dataset.textFailed || "";
          }
          if (button) {
            button.disabled = false;
          }
          return;
        }
      }
      // Mismatched or empty passwords go to the server as they are: it explains what is wrong.
      form.submit();
    });
  }

  document.querySelectorAll("form[data-keygen]").forEach(wire);
})();
