/* Sign-in pages and the account page. The password inputs have no name: only what the browser
 * derives from them is posted (DESIGN §3; Refuge.keys in keyring.js).
 *
 * - form[data-login-form] (/login) and form[data-proof-form] (an enrol link after a
 *   second-factor reset): ask /auth/salt how this e-mail's password is derived, post the
 *   authentication secret. An account from before the split ("upgrade") posts its password
 *   one last time with it, and is on the new scheme from then on.
 * - On /login: forget any keys a previous session left in this tab, and any wrapping key an
 *   earlier sign-in carried (shown again: a wrong password, a lock-out, "Start again", sign-out).
 * - The sign-in (/login only) also keeps the key-wrapping key it derived, for the unlock page
 *   after the second factor: the password is typed once (Refuge.keys.carryWrappingKey in
 *   keyring.js says where, for how long, and when it is forgotten). It is never posted.
 * - The unlock page (/auth/unlock) is handled by keyring.js (form[data-unlock-form]).
 * - Change password (form[data-rewrap-form]): open the staff key with the current password and
 *   wrap the same key with a key derived from the new one (new salt), in the browser, then post
 *   the new wrapped blob with both authentication secrets.
 */
(function () {
  "use strict";
  const staff = window.Refuge.staff;
  const setField = staff.setField;

  function forgetCarriedKey() {
    if (window.Refuge.keys) {
      window.Refuge.keys.forgetCarriedKey();
    }
  }

  if (document.querySelector("form[data-login-form]")) {
    staff.forgetStoredKeyring();
    forgetCarriedKey();
    // Back to this page from the browser's cache (after the code page): shown again too.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        forgetCarriedKey();
      }
    });
  }

  function say(form, text) {
    const status = form.querySelector("[data-keygen-status]");
    if (status) {
      status.textContent = text || "";
    }
  }

  /* /login and the enrol proof: the secret for (email, password), and the password itself
   * only for an account the server marks as from before the split. */
  function wireProof(form, secretField, carry) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const input = form.querySelector("input[data-password]");
      const emailInput = form.querySelector("input[name='email']");
      const email = emailInput ? emailInput.value : form.dataset.email || "";
      const button = form.querySelector("button[type=submit]");
      const keys = window.Refuge.keys;
      if (!input || !input.value || !email || !keys) {
        form.submit(); // the server says what is missing
        return;
      }
      if (button) {
        button.disabled = true;
      }
      say(form, form.dataset.textWorking);
      await staff.afterPaint();
      try {
        const how = await keys.loginSalt(email, form.dataset.saltUrl);
        const secrets = await keys.deriveLoginSecrets(input.value, how.salt, how.ops_limit, how.mem_limit);
        const sodium = await keys.ready();
        sodium.memzero(secrets.master);
        if (carry) {
          keys.carryWrappingKey(secrets.wrappingKey, how);
        }
        sodium.memzero(secrets.wrappingKey);
        setField(form, secretField, secrets.authSecret);
        setField(form, "legacy_password", how.upgrade === true ? input.value : "");
      } catch (error) {
        forgetCarriedKey();
        say(form, form.dataset.textFailed);
        if (button) {
          button.disabled = false;
        }
        return;
      }
      input.value = "";
      form.submit();
    });
  }

  document.querySelectorAll("form[data-login-form]").forEach(function (form) {
    wireProof(form, "auth_secret", true);
  });
  document.querySelectorAll("form[data-proof-form]").forEach(function (form) {
    wireProof(form, "current_auth_secret", false);
  });

  async function rewrap(form, current, next) {
    const keys = window.Refuge.keys;
    const sodium = await keys.ready();
    const data = await staff.fetchJson(form.dataset.keyringUrl);
    let secret;
    let publicKey = data.user_public_key;
    if (data.wrapped_secret_key) {
      const opened = await keys.openStaffSecret(data, current, null);
      secret = opened.secret;
      sodium.memzero(opened.secrets.wrappingKey);
      setField(form, "current_auth_secret", opened.secrets.authSecret);
    } else {
      // No key yet (an account from before keys): the proof alone, and a keypair now.
      const proof = await keys.deriveLoginSecrets(current, data.key_salt, data.ops_limit, data.mem_limit);
      sodium.memzero(proof.master);
      sodium.memzero(proof.wrappingKey);
      setField(form, "current_auth_secret", proof.authSecret);
      const pair = await keys.newKeyPair();
      secret = pair.privateKey;
      publicKey = keys.toB64(pair.publicKey);
    }
    const login = await keys.newLoginSecrets(next, form.dataset.opsLimit, form.dataset.memLimit);
    const wrapped = await keys.wrapWithKey(secret, login.wrappingKey);
    sodium.memzero(secret);
    sodium.memzero(login.wrappingKey);
    setField(form, "public_key", publicKey);
    setField(form, "wrapped_secret_key", wrapped);
    setField(form, "key_salt", login.salt);
    setField(form, "ops_limit", String(form.dataset.opsLimit));
    setField(form, "mem_limit", String(form.dataset.memLimit));
    setField(form, "auth_secret", login.authSecret);
  }

  document.querySelectorAll("form[data-rewrap-form]").forEach(function (form) {
    const problemNode = form.querySelector("[data-password-error]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const current = form.querySelector("input[data-current-password]").value;
      const next = form.querySelector("input[data-password]").value;
      const confirm = form.querySelector("input[data-password-confirm]").value;
      let problem = null;
      if (next.length < (Number(form.dataset.minLength) || 12)) {
        problem = form.dataset.textTooShort;
      } else if (next !== confirm) {
        problem = form.dataset.textDiffer;
      } else if (!current) {
        problem = form.dataset.textCurrentMissing;
      }
      if (problemNode) {
        problemNode.textContent = problem || "";
        problemNode.hidden = !problem;
      }
      if (problem || !window.Refuge.keys) {
        return;
      }
      say(form, form.dataset.textWorking);
      await staff.afterPaint();
      try {
        await rewrap(form, current, next);
      } catch (error) {
        say(form, form.dataset.textFailed);
        return;
      }
      form.querySelectorAll("input[type=password]").forEach(function (input) {
        input.value = "";
      });
      form.submit();
    });
  });
})();
