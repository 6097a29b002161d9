/*
 * /status: tell the server this browser opens the messages itself.
 *
 * Without JavaScript the server opens the thread with the receipt code for that one response
 * (the page says so). With JavaScript, status.js opens it here, so the form says
 * browser_opens=1 and the server sends the messages sealed only.
 *
 * Not where this page cannot open them: on the status page itself, when libsodium or
 * submitter.js did not load, status.js stands aside and its forms post as without JavaScript
 * (the follow-up was refused for the flag, and the next page said "Opening…" for ever).
 *
 * The code form (status.html) of a tab that sent a request: receipt.js keeps that request's
 * code in this tab's sessionStorage until "I have written down or copied the code" is ticked
 * or the tab is closed, and it is filled in here, so that a person who has not written it
 * down yet is not asked to type it (a review). Only an empty field is filled, never over what
 * was typed; the code goes nowhere else: the form posts it as if typed, never in an address.
 */
(function () {
  "use strict";

  const thisPageOpens = !document.getElementById("thread") ||
    Boolean(window.Refuge && window.Refuge.submitter && typeof sodium !== "undefined");
  if (thisPageOpens) {
    document.querySelectorAll("form[data-browser-opens]").forEach(function (form) {
      const flag = document.createElement("input");
      flag.type = "hidden";
      flag.name = "browser_opens";
      flag.value = "1";
      form.appendChild(flag);
    });
  }

  const receipt = window.Refuge && window.Refuge.receipt; // receipt.js, loaded before
  const field = document.querySelector("form.status-form input[name=code]");
  const note = document.getElementById("code-from-this-tab");
  const sent = receipt && field && note && !field.value ? receipt.sentInThisTab() : null;
  if (sent) {
    field.value = sent.code;
    note.hidden = false;
    const described = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    field.setAttribute("aria-describedby", described.concat(note.id).join(" "));
  }
})();
