/* First run (/setup) and invite links (/auth/enrol/…): the browser makes the keys.
 *
 * The password inputs have no name: they are never posted. From the password the browser
 * derives (Refuge.keys.newLoginSecrets, keyring.js) a key-wrapping key and an authentication
 * secret, with a new salt.
 *
 * form[data-keygen="user"]      a staff X25519 keypair; its secret is wrapped with the derived
 *                               key-wrapping key (crypto_secretbox).
 * form[data-keygen="user+org"]  also the organisation keypair, whose secret is sealed to the
 *                               new staff public key (the first key grant), and the recovery
 *                               kit (recovery.js) when the page offers one.
 * Only public keys, the salt, the wrapped / sealed blobs and the authentication secret are
 * posted; the password and raw secrets never leave here.
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
    const login = await keys.newLoginSecrets(password, ops, mem);
    const staffPair = await keys.newKeyPair();
    const wrapped = await keys.wrapWithKey(staffPair.privateKey, login.wrappingKey);
    sodium.memzero(login.wrappingKey);
    setField(form, "public_key", keys.toB64(staffPair.publicKey));
    setField(form, "wrapped_secret_key", wrapped);
    setField(form, "key_salt", login.salt);
    setField(form, "ops_limit", String(ops));
    setField(form, "mem_limit", String(mem));
    setField(form, "auth_secret", login.authSecret);
    if (form.dataset.keygen === "user+org") {
      const org = await keys.newKeyPair();
      setField(form, "org_public_key", keys.toB64(org.publicKey));
      setField(form, "sealed_org_secret", window.Refuge.sealed.sealBytes(org.privateKey, staffPair.publicKey));
      if (window.Refuge.recovery) {
        await window.Refuge.recovery.prepareForSetup(form, [{ orgPublicKey: keys.toB64(org.publicKey), orgSecret: org.privateKey }]);
      }
      sodium.memzero(org.privateKey);
    }
    sodium.memzero(staffPair.privateKey);
  }

  /* The checks the server can no longer make (it never sees the password). */
  function passwordProblem(form, password, confirm) {
    const min = Number(form.dataset.minLength) || 12;
    if (password.length < min) {
      return form.dataset.textTooShort || "The password is too short.";
    }
    if (password.length > 1024) {
      return form.dataset.textTooLong || "The password is too long.";
    }
    if (password !== confirm) {
      return form.dataset.textDiffer || "The passwords differ.";
    }
    return null;
  }

  /* /setup's address, checked as the server will (data-email-pattern, accounts.EMAIL_PATTERN)
   * before anything is made: refused after the recovery kit was saved, it made that kit
   * worthless, and the next try showed another. */
  function emailChecked(form) {
    const input = form.querySelector("input[name=email]");
    const line = form.querySelector("[data-email-error]");
    const pattern = form.dataset.emailPattern;
    if (!input || !line || !pattern) {
      return true;
    }
    const ok = new RegExp(pattern).test(input.value.trim().toLowerCase());
    line.textContent = ok ? "" : form.dataset.textBadEmail || "";
    line.hidden = ok;
    const described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
      return id && id !== line.id;
    });
    if (ok) {
      input.removeAttribute("aria-invalid");
    } else {
      input.setAttribute("aria-invalid", "true");
      described.push(line.id);
      input.focus();
    }
    if (described.length) {
      input.setAttribute("aria-describedby", described.join(" "));
    } else {
      input.removeAttribute("aria-describedby");
    }
    return ok;
  }

  function wire(form) {
    const status = form.querySelector("[data-keygen-status]");
    const problemNode = form.querySelector("[data-password-error]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (!emailChecked(form)) {
        return;
      }
      const passwordInput = form.querySelector("input[data-password]");
      const confirmInput = form.querySelector("input[data-password-confirm]");
      const password = passwordInput.value;
      const confirm = confirmInput ? confirmInput.value : password;
      const button = form.querySelector("button[type=submit]");
      const problem = passwordProblem(form, password, confirm);
      if (problemNode) {
        problemNode.textContent = problem || "";
        problemNode.hidden = !problem;
      }
      if (problem) {
        passwordInput.setAttribute("aria-invalid", "true");
        passwordInput.focus();
        return;
      }
      passwordInput.removeAttribute("aria-invalid");
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
      passwordInput.value = "";
      if (confirmInput) {
        confirmInput.value = "";
      }
      form.submit();
    });
  }

  document.querySelectorAll("form[data-keygen]").forEach(wire);
})();
