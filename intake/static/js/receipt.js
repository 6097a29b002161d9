/* Refuge: the copy button of the receipt code (hidden without JavaScript). */
(function () {
  "use strict";
  function bind() {
    const button = document.getElementById("copy-receipt");
    const target = document.getElementById("receipt-code");
    const status = document.getElementById("copy-status");
    if (!button || !target || !status) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", async function () {
      try {
        await navigator.clipboard.writeText(target.textContent.trim());
        status.textContent = status.dataset.copied;
      } catch (error) {
        const range = document.createRange();
        range.selectNodeContents(target);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        status.textContent = status.dataset.copyFailed;
      }
    });
  }
  // The request was filed (here after the server sealed it): the tab's copy is not needed.
  if (document.querySelector("[data-request-filed]")) {
    try {
      sessionStorage.removeItem("refuge-intake-session");
    } catch (error) {
      // storage blocked: nothing was kept
    }
  }
  window.Refuge = window.Refuge || {};
  window.Refuge.receipt = Object.freeze({ bind: bind });
  bind();
})();
