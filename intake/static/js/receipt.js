/* Refuge: the receipt code, shown once (on /request after intake.js sent the request, or on
 * /request/receipt without it).
 *
 * - The copy button (hidden without JavaScript).
 * - Until the person ticks "I have written down or copied the code" (or copies it with the
 *   button), the browser asks before leaving, and this tab keeps the code in its
 *   sessionStorage (never localStorage, never sent anywhere): a reload, or a phone that dropped
 *   the tab while the person wrote the code down elsewhere, brings the receipt back on /request
 *   (intake.js) instead of an empty form to send again, and /status opened in this tab has it
 *   filled in (status-code.js, which reads it through sentInThisTab). Ticking the box forgets
 *   it; closing the tab does too. Forms that carry the code with them (the status page, the
 *   receipt in another language: [data-keeps-receipt]) leave without asking.
 * - On /request the language buttons are links (steps.js) that would drop the receipt: while it
 *   is shown they post it to /request/receipt instead, like the page without JavaScript.
 * - The receipt says that the code can withdraw the request's consent only when it gave one
 *   (on /request: from the answers sent, kept in the tab with the code for a reload).
 */
(function () {
  "use strict";
  // What this tab sent: {code, consent, urgent: {threats, country} when it was "Immediate"};
  // facts in the clear anyway besides the code, so the receipt brings back its "what to do
  // now" and says what the code can do.
  const SENT_KEY = "refuge-request-sent";
  const CODE_SHAPE = /^[0-9A-Z][0-9A-Z-]{15,40}$/;
  let armed = false;
  let kept = false;
  let leavingWithCode = false;
  let consented = null; // whether the request shown gave consent, once armed

  function readSent() {
    let sent = null;
    try {
      sent = JSON.parse(sessionStorage.getItem(SENT_KEY) || "null");
    } catch (error) {
      sent = null;
    }
    if (!sent || typeof sent.code !== "string" || !CODE_SHAPE.test(sent.code)) {
      return null;
    }
    return sent;
  }

  /* The request this tab sent and whose code is not yet written down, or null. */
  function sentInThisTab() {
    return readSent();
  }

  function keepSent(code) {
    if (kept || !code) {
      return;
    }
    const sent = readSent();
    const urgent = sent && sent.code === code ? sent.urgent : urgentFacts();
    const record = { code: code, consent: consented === true };
    if (urgent) {
      record.urgent = urgent;
    }
    try {
      sessionStorage.setItem(SENT_KEY, JSON.stringify(record));
    } catch (error) {
      // storage blocked or full: the receipt is still on screen, and leaving still asks
    }
  }

  function forgetSent() {
    try {
      sessionStorage.removeItem(SENT_KEY);
    } catch (error) {
      // nothing was kept
    }
  }

  function setKept(on) {
    kept = on;
    if (on) {
      forgetSent();
    } else {
      keepSent(shownCode());
    }
  }

  /* The intake form's "Immediate" routing facts, or null. */
  function urgentFacts() {
    const form = document.getElementById("intake-form");
    const urgency = form && form.querySelector("input[name=urgency]:checked");
    if (!urgency || urgency.value !== "immediate") {
      return null;
    }
    const country = form.elements.namedItem("country");
    return {
      threats: Array.from(form.querySelectorAll("input[name=threats]:checked")).map(function (el) {
        return el.value;
      }),
      country: country && country.value ? country.value : "",
    };
  }

  /* Whether the request whose receipt is shown gave consent to share and to act on it (what
   * the intake records, and /status lists to withdraw): the receipt page says it in its
   * language form (the server knows); on /request the answers sent say it, or, after a
   * reload, what this tab kept with the code (the form is empty again). */
  function consentOf(code) {
    const said = document.querySelector("#receipt-language input[name=consent]");
    if (said) {
      return said.value === "1";
    }
    const sent = readSent();
    if (sent && sent.code === code) {
      return sent.consent === true;
    }
    const form = document.getElementById("intake-form");
    const chosen = function (name) {
      const input = form && form.querySelector("input[name=" + name + "]:checked");
      return input ? input.value : "";
    };
    return chosen("consent") === "yes" && chosen("referral_consent") === "yes";
  }

  /* The receipt's line on what the code can do, with "withdraw your consent" only if there is
   * one; the language form carries it, so the receipt in another language says the same. */
  function showConsent(on) {
    for (const line of document.querySelectorAll("#receipt-panel [data-receipt-consent]")) {
      line.hidden = (line.dataset.receiptConsent === "yes") !== on;
    }
    const languageForm = document.getElementById("receipt-language");
    if (languageForm && !languageForm.querySelector("input[name=consent]")) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "consent";
      input.value = on ? "1" : "0";
      languageForm.appendChild(input);
    }
  }

  function shownCode() {
    const panel = document.getElementById("receipt-panel");
    const target = document.getElementById("receipt-code");
    if (!panel || panel.hidden || !target) {
      return "";
    }
    return target.textContent.trim();
  }

  function guardLeaving(event) {
    if (kept || leavingWithCode || !shownCode()) {
      return undefined;
    }
    event.preventDefault();
    event.returnValue = ""; // older browsers need it set to ask
    return "";
  }

  function markKept() {
    setKept(true);
    const box = document.getElementById("receipt-kept");
    if (box) {
      box.checked = true;
    }
  }

  // The intake form's "Immediate" facts, so the receipt in another language still says what to
  // do now (routing facts only: they are sent in the clear anyway).
  function copyUrgentFacts(languageForm) {
    const facts = urgentFacts();
    if (!facts || languageForm.querySelector("[name=urgent_country]")) {
      return;
    }
    const add = function (name, value) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      languageForm.appendChild(input);
    };
    for (const threat of facts.threats) {
      add("urgent_threats", threat);
    }
    add("urgent_country", facts.country);
  }

  function postLanguageChanges(languageForm) {
    document.addEventListener("click", function (event) {
      const button = event.target.closest && event.target.closest("button[data-language-url]");
      if (!button || button.form === languageForm || !shownCode()) {
        return;
      }
      // Before steps.js (on the button itself) turns it into a link to an empty form.
      event.preventDefault();
      event.stopPropagation();
      const lang = new URL(button.dataset.languageUrl, window.location.href).searchParams.get("lang");
      const action = new URL(languageForm.dataset.receiptUrl, window.location.href);
      action.searchParams.set("lang", lang || "");
      languageForm.action = action.pathname + action.search;
      copyUrgentFacts(languageForm);
      leavingWithCode = true;
      languageForm.submit();
    }, true);
  }

  // On /request the page may have been open for hours (and its session renewed when the request
  // was sent): the forms that carry the code get a fresh CSRF token, as the request itself did.
  async function refreshTokens() {
    const form = document.getElementById("intake-form");
    if (!form || !form.dataset.keyUrl) {
      return;
    }
    try {
      const response = await fetch(form.dataset.keyUrl, { credentials: "same-origin" });
      const token = response.ok ? (await response.json()).csrf_token : null;
      if (token) {
        for (const input of document.querySelectorAll("form[data-keeps-receipt] input[name=csrf_token]")) {
          input.value = token;
        }
      }
    } catch (error) {
      // offline: the token of the page is still there, and an expired one loses no code
    }
  }

  function arm() {
    const code = shownCode();
    if (armed || !code) {
      return;
    }
    armed = true;
    consented = consentOf(code);
    showConsent(consented);
    keepSent(code);
    for (const input of document.querySelectorAll("[data-receipt-code-input]")) {
      input.value = code;
    }
    for (const form of document.querySelectorAll("form[data-keeps-receipt]")) {
      form.addEventListener("submit", function () {
        leavingWithCode = true;
      });
    }
    const languageForm = document.getElementById("receipt-language");
    if (languageForm) {
      postLanguageChanges(languageForm);
    }
    const box = document.getElementById("receipt-kept");
    const row = document.getElementById("receipt-kept-row");
    if (box && row) {
      row.hidden = false;
      box.addEventListener("change", function () {
        setKept(box.checked);
      });
    }
    refreshTokens();
    window.addEventListener("beforeunload", guardLeaving);
    // A page restored from the back/forward cache may come back mid-submit.
    window.addEventListener("pageshow", function () {
      leavingWithCode = false;
    });
  }

  let copyBound = false;
  function bind() {
    const button = document.getElementById("copy-receipt");
    const target = document.getElementById("receipt-code");
    const status = document.getElementById("copy-status");
    arm();
    if (copyBound || !button || !target || !status) {
      return;
    }
    copyBound = true;
    button.hidden = false;
    button.addEventListener("click", async function () {
      try {
        await navigator.clipboard.writeText(target.textContent.trim());
        status.textContent = status.dataset.copied;
        markKept();
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
  window.Refuge.receipt = Object.freeze({ bind: bind, sentInThisTab: sentInThisTab, forgetSent: forgetSent });
  bind();
})();
