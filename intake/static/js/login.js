/* Sign-in pages and the account page.
 *
 * - On /login: forget any keys a previous session left in this tab.
 * - The unlock page (/auth/unlock) is handled by keyring.js (form[data-unlock-form]).
 * - Change password (form[data-rewrap-form]): open the staff key with the current password and
 *   wrap the same key with the new one, in the browser, then post the new wrapped blob.
 */
(function () {
  "use strict";

  if (document.querySelector("form[data-login-form]")) {
    window.sessionStorage.removeItem("refuge.keyring.v1");
    window.sessionStorage.removeItem("refuge.keyring.v2");
    window.sessionStorage.removeItem("refuge.keyring.activity");
  }

  function setField(form, name, value) {
    var input = form.querySelector("input[name='" + name + "']");
    if (input) {
      input.value = value;
    }
  }

  async function rewrap(form, current, next) {
    var response = await fetch(form.dataset.keyringUrl, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (!response.ok || response.redirected) {
      throw new Error("keyring");
    }
    var data = await response.json();
    if (!data.wrapped_secret_key) {
      return; // no key to re-wrap: the password alone changes
    }
    var keys = window.RefugeKeys;
    var sodium = await keys.ready();
    var secret = await keys.unwrapSecret(
      data.wrapped_secret_key, data.key_salt, current, data.ops_limit, data.mem_limit
    );
    var wrapped = await keys.wrapSecret(secret, next, form.dataset.opsLimit, form.dataset.memLimit);
    sodium.memzero(secret);
    setField(form, "public_key", data.user_public_key);
    setField(form, "wrapped_secret_key", wrapped.wrapped);
    setField(form, "key_salt", wrapped.salt);
    setField(form, "ops_limit", String(form.dataset.opsLimit));
    setField(form, "mem_limit", String(form.dataset.memLimit));
  }

  document.querySelectorAll("form[data-rewrap-form]").forEach(function (form) {
    var status = form.querySelector("[data-keygen-status]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var current = form.querySelector("input[name='current_password']").value;
      var next = form.querySelector("input[name='password']").value;
      var confirm = form.querySelector("input[name='confirm']").value;
      if (current && next && next === confirm && window.RefugeKeys) {
        if (status) {
          status.textContent = form.dataset.textWorking || "";
        }
        await new Promise(function (resolve) {
          window.setTimeout(resolve, 30);
        });
        try {
          await rewrap(form, current, next);
        } catch (error) {
          if (status) {
            status.textContent = form.dataset.textFailed || "";
          }
          return;
        }
      }
      form.submit();
    });
  });
})();
