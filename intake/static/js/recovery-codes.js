/* Refuge: the recovery codes, shown once (after an authenticator app is confirmed, or new
 * codes made on the account page).
 *
 * - The print button (hidden without JavaScript: window.print needs it).
 * - The codes are kept nowhere else, so leaving the page loses them: until the person follows
 *   "I have kept them", the browser asks before leaving (a language link, back, closing the
 *   tab), as the receipt page does (receipt.js).
 */
(function () {
  "use strict";
  const list = document.querySelector("[data-recovery-codes]");
  if (!list) {
    return;
  }
  let kept = false;

  const print = document.querySelector("[data-print-codes]");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () {
      window.print();
    });
  }

  for (const link of document.querySelectorAll("[data-codes-kept]")) {
    link.addEventListener("click", function () {
      kept = true;
    });
  }

  window.addEventListener("beforeunload", function (event) {
    if (kept) {
      return undefined;
    }
    event.preventDefault();
    event.returnValue = ""; // older browsers need it set to ask
    return "";
  });
  // A page restored from the back/forward cache asks again until the codes are kept.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      kept = false;
    }
  });
})();
