/* Refuge: a field's label as it leads its error in an error summary (window.Refuge.asLead),
 * for the scripts that write the summary's lines: intake.js (the request) and status.js (a
 * follow-up). The server writes its own with intake.web.as_lead; this says the same.
 *
 * On its own, needing nothing else (libsodium, submitter.js): a page whose sealing library did
 * not load still says its errors as the server would.
 */
(function () {
  "use strict";

  /* "Country: ", but "What happened? " (a label that already ends in a question mark or colon,
   * in any script, takes no other); after it, what the page's language sets
   * (intake.web.lead_separators, on the summary: "Pays : ", "国家："). */
  function asLead(label) {
    const text = String(label).trim();
    const summary = document.getElementById("error-summary");
    const words = summary ? summary.dataset : {};
    const after = /[?？؟:：]$/.test(text) ? words.leadSpace : words.leadColon;
    return text + (after === undefined ? ": " : after);
  }

  window.Refuge = window.Refuge || {};
  window.Refuge.asLead = asLead;
})();
