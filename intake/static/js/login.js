/* Sign-in pages and the account page.
 *
 * - On /login: forget any keys a previous session left in this tab.
 * - The unlock page (/auth/unlock) is handled by keyring.js (form[data-unlock-form]).
 * - Change password (form[data-rewrap-form]): open the staff key with the current password and
 *   wrap the same key with the new one, in the browser, then post the new wrapped blob.
 */
(function () {
  "use strict";
  const staff = window.Refuge.staff;
  const setField = staff.setField;

  if (document.querySelector("form[data-login-form]")) {
    staff.forgetStoredKeyring();
  }

  async function rewrap(form, current, next) {
    const data = await staff.fetchJson(form.dataset.keyringUrl);
    if (!data.wrapped_secret_key) {
      return; // no key to re-wrap: the password alone changes
    }
    const keys = window.Refuge.keys;
    const sodium = await keys.ready();
    const secret = await keys.unwrapSecret(
      data.wrapped_secret_key, data.key_salt, current, data.ops_limit, data.mem_limit
    );
    const wrapped = await keys.wrapSecret(secret, next, form.dataset.opsLimit, form.dataset.memLimit);
    sodium.memzero(secret);
    setField(form, "public_key", data.user_public_key);
    setField(form, "wrapped_secret_key", wrapped.wrapped);
    setField(form, "key_salt", wrapped.salt);
    setField(form, "ops_limit", String(form.dataset.opsLimit));
    setField(form, "mem_limit", String(form.dataset.memLimit));
  }

  document.querySelectorAll("form[data-rewrap-form]").forEach(function (form) {
    const status = form.querySelector("[data-keygen-status]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const current = form.querySelector("input[name='current_password']").value;
      const next = form.querySelector("input[name='password']").value;
      const confirm = form.querySelector("input[name='confirm']").value;
      if (current && next && next === confirm && window.Refuge.keys) {
        if (status) {
          status.textContent = form.dataset.textWorking || "";
        }
        await staff.afterPaint();
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
