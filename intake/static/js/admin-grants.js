/* Admin: grant the organisation key to a colleague, in this browser.
 * The organisation secret comes from the admin's unlocked keyring (RefugeKeyring.orgKeyPair)
 * and is sealed (crypto_box_seal) to the colleague's public key; only that is posted.
 */
(function () {
  "use strict";
  var errorNode = document.querySelector("[data-grant-error]");

  function showError(name) {
    if (errorNode) {
      errorNode.textContent = errorNode.dataset[name] || "";
      errorNode.hidden = false;
    }
  }

  document.querySelectorAll("form[data-grant-form]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (errorNode) {
        errorNode.hidden = true;
      }
      var keyring = window.RefugeKeyring;
      if (!keyring || !keyring.isUnlocked()) {
        showError("textLocked");
        return;
      }
      try {
        var pair = await keyring.orgKeyPair(Number(form.dataset.orgKeyId));
        if (!pair) {
          showError("textLocked");
          return;
        }
        var sealed = await window.RefugeKeys.sealTo(pair.privateKey, form.dataset.colleaguePublicKey);
        form.querySelector("input[name='sealed_org_secret']").value = sealed;
      } catch (error) {
        showError("textFailed");
        return;
      }
      form.submit();
    });
  });
})();
