/* Admin: grant the organisation key to a colleague, in this browser.
 * The organisation secret comes from the admin's unlocked keyring (RefugeKeyring.orgKeyPair)
 * and is sealed (crypto_box_seal) to the colleague's public key; that and the public key it was
 * sealed to are posted (the server refuses the grant if the colleague's key has changed since).
 * The rotation form needs its confirmation box ticked (the browser's own `required` check).
 *
 * Rotation (form[data-rotate-form]): a new organisation keypair is made here and its secret
 * sealed to every current holder's public key (each posted with the key it was sealed to) and to
 * every recovery kit in force ([data-kit]: one kit keeps opening every key). The keyring
 * stays unlocked: it fetches the new grant when it first meets the new key (keyring.js
 * refresh), here at once when the page shows a key it does not hold. It used to be locked
 * before posting, so a rotation the server refused (a holder changed meanwhile) left the
 * admin locked out of trying again (a review).
 */
(function () {
  "use strict";
  const errorNode = document.querySelector("[data-grant-error]");

  /* Said beside the form that failed (the rotation's own line, else the grants'), given the
   * focus: the grants' line sits far above the rotation's button on a phone (a review). */
  function showError(name, form) {
    const own = form && form.querySelector("[data-form-error]");
    const node = own || errorNode;
    if (node) {
      node.textContent = (errorNode && errorNode.dataset[name]) || node.dataset[name] || "";
      node.hidden = false;
      node.tabIndex = -1;
      node.scrollIntoView({ block: "center" });
      node.focus({ preventScroll: true });
    }
  }

  /* After a rotation (or a grant made elsewhere) the page shows a key this tab's keyring
   * does not hold yet: fetch the grant now, not at the first case that needs it. */
  const shown = document.querySelector("[data-current-org-key-id]");
  const ring = window.RefugeKeyring;
  if (shown && ring && ring.isUnlocked() && ring.refresh) {
    const current = Number(shown.dataset.currentOrgKeyId);
    if (ring.currentOrgKeyId() !== current) {
      ring.refresh().catch(function () {
        /* the next case that needs the key asks again */
      });
    }
  }

  document.querySelectorAll("form[data-grant-form]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (errorNode) {
        errorNode.hidden = true;
      }
      const keyring = window.RefugeKeyring;
      if (!keyring || !keyring.isUnlocked()) {
        showError("textLocked");
        return;
      }
      try {
        const pair = await keyring.orgKeyPair(Number(form.dataset.orgKeyId));
        if (!pair) {
          showError("textLocked");
          return;
        }
        const colleagueKey = form.dataset.colleaguePublicKey;
        const sealed = await window.Refuge.keys.sealTo(pair.privateKey, colleagueKey);
        window.sodium.memzero(pair.privateKey);
        form.querySelector("input[name='sealed_org_secret']").value = sealed;
        // The server refuses the grant unless this is still the colleague's key.
        form.querySelector("input[name='colleague_public_key']").value = colleagueKey;
      } catch (error) {
        showError("textFailed");
        return;
      }
      form.submit();
    });
  });

  document.querySelectorAll("form[data-rotate-form]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (errorNode) {
        errorNode.hidden = true;
      }
      const keyring = window.RefugeKeyring;
      if (!keyring || !keyring.isUnlocked() || keyring.currentOrgKeyId() === null) {
        showError("textLocked", form);
        return;
      }
      try {
        const keys = window.Refuge.keys;
        const sodium = await keys.ready();
        const pair = await keys.newKeyPair();
        const grants = [];
        const holders = form.querySelectorAll("[data-holder]");
        for (let i = 0; i < holders.length; i += 1) {
          grants.push({
            user_id: Number(holders[i].dataset.userId),
            public_key: holders[i].dataset.publicKey,
            sealed_org_secret: await keys.sealTo(pair.privateKey, holders[i].dataset.publicKey),
          });
        }
        // Every recovery kit in force gets the new key too: one kit opens every key.
        const kitSeals = [];
        form.querySelectorAll("[data-kit]").forEach(function (kit) {
          kitSeals.push({
            kit_id: Number(kit.dataset.kitId),
            sealed_org_secret: window.Refuge.sealed.sealBytes(pair.privateKey, keys.fromB64(kit.dataset.publicKey)),
          });
        });
        form.querySelector("input[name='kit_seals']").value = JSON.stringify(kitSeals);
        form.querySelector("input[name='org_public_key']").value = keys.toB64(pair.publicKey);
        form.querySelector("input[name='grants']").value = JSON.stringify(grants);
        sodium.memzero(pair.privateKey);
      } catch (error) {
        showError("textFailed", form);
        return;
      }
      form.submit();
    });
  });
})();
