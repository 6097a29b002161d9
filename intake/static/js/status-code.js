/*
 * /status: tell the server this browser opens the messages itself.
 *
 * Without JavaScript the server opens the thread with the receipt code for that one response
 * (the page says so). With JavaScript, status.js opens it here, so the form says
 * browser_opens=1 and the server sends the messages sealed only.
 */
(function () {
  "use strict";

  document.querySelectorAll("form[data-browser-opens]").forEach(function (form) {
    const flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = "browser_opens";
    flag.value = "1";
    form.appendChild(flag);
  });
})();
