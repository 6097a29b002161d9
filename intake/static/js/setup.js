/* First run (/setup) and invite links (/auth/enrol/…): the browser makes the keys.
 *
 * form[data-keygen="user"]      a staff X25519 keypair; its secret is wrapped with the password
 *                               (RefugeKeys.wrapSecret: Argon2id + secretbox, keyring.js).
 * form[data-keygen="user+org"]  also the organisation keypair, whose secret is sealed to the
 *                               new staff public key (the first key grant).
 * Only public keys and the wrapped / sealed blobs are posted; raw secrets never leave here.
 */
(function () {
  "use strict";

  function setField(form, name, value) {
    var input = form.querySelector("input[name='" + name + "']");
    if (input) {
      input.value = value;
    }
  }

  async function makeKeys(form, password) {
    var keys = window.RefugeKeys;
    var sodium = await keys.ready();
    var ops = form.dataset.opsLimit;
    var mem = form.dataset.memLimit;
    var staff = await keys.newKeyPair();
    var wrapped = await keys.wrapSecret(staff.privateKey, password, ops, mem);
    setField(form, "public_key", keys.toB64(staff.publicKey));
    setField(form, "wrapped_secret_key", wrapped.wrapped);
    setField(form, "key_salt", wrapped.salt);
    setField(form, "ops_limit", String(ops));
    setField(form, "mem_limit", String(mem));
    if (form.dataset.keygen === "user+org") {
      var org = await keys.newKeyPair();
      setField(form, "org_public_key", keys.toB64(org.publicKey));
      setField(form, "sealed_org_secret", keys.toB64(sodium.crypto_box_seal(org.privateKey, staff.publicKey)));
      sodium.memzero(org.privateKey);
    }
    sodium.memzero(staff.privateKey);
  }

  function wire(form) {
    var status = form.querySelector("[data-keygen-status]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var password = form.querySelector("input[name='password']").value;
      var confirm = form.querySelector("input[name='confirm']").value;
      var button = form.querySelector("button[type=submit]");
      if (password && password === confirm) {
        if (button) {
          button.disabled = true;
        }
        if (status) {
          status.textContent = form.dataset.textWorking || "";
        }
        await new Promise(function (resolve) {
          window.setTimeout(resolve, 30);
        });
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
