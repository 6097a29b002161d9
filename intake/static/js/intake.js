/* Refuge: the intake form with JavaScript on.
 *
 * 1. Check the answers here first (errors beside each field and in a summary at the top).
 * 2. Fetch a fresh CSRF token and the current organisation key.
 * 3. Seal the answers (padded JSON) and each file to the organisation key (sealed.js).
 * 4. Post only ciphertext, the routing fields and the key id; show the receipt code.
 * Every attempt at one filled form carries the same submission token (made at the first Send,
 * kept with the tab's answers by steps.js): when an answer is lost on the way and the person
 * sends again, the server files the request once and answers with the same receipt code.
 * While it is being sent the form is busy (aria-busy; Send, the step navigation and the
 * language buttons disabled, the "sending" line on screen), so nothing can be edited that
 * would not be sent.
 * If anything fails, the form and everything typed stay as they are. If this browser cannot
 * seal (libsodium blocked or not loaded, WebAssembly refused), the person is told and asked
 * before the form is posted for the server to seal (the no-JavaScript path): never silently.
 * libsodium arrives last (the page loads it after this script: on 2G it takes 13 s more).
 * Send pressed before this script ran is held by send-guard.js; pressed before libsodium has
 * started, the answers are checked at once, and the request waits, "Preparing the
 * encryption…" said beside Send, then goes by itself (an answer changed meanwhile calls off
 * that send: Send is pressed again when done). While sending, the line beside Send says how
 * much has gone ("Sending: 40%"); a link that went silent is given up (submitter.js) and the
 * person told it is safe to press Send again.
 */
(function () {
  "use strict";
  const form = document.getElementById("intake-form");
  if (!form) {
    return;
  }
  window.Refuge = window.Refuge || {};
  // The review's promise of encryption in this browser: made only where this script runs.
  form.querySelectorAll("[data-sealed-here]").forEach(function (promise) {
    promise.hidden = false;
  });
  const guard = window.Refuge.sendGuard; // send-guard.js, the page's first script
  if (guard) {
    guard.claim(form); // presses of Send wait until canSeal() has its answer
  }
  const seal = window.Refuge.submitter;
  const answerLength = window.Refuge.answerLength; // answer-length.js, loaded before this
  const SEAL_READY_MS = 8000;
  const data = form.dataset;
  const sealedFields = (data.sealedFields || "").split(/\s+/).filter(Boolean);
  const summary = document.getElementById("error-summary");
  const summaryList = document.getElementById("error-summary-list");
  const statusLine = document.getElementById("send-status");
  const DRAFT_KEY = "refuge-intake-draft";
  let busy = false;
  let pageToken = null; // the token when steps.js is not there to keep it

  /* Called once sealing works, so submitter.js is there. */
  function submissionToken() {
    if (window.Refuge.steps) {
      return window.Refuge.steps.submissionToken(seal.newSubmissionToken);
    }
    pageToken = pageToken || seal.newSubmissionToken();
    return pageToken;
  }

  function valueOf(name) {
    const item = form.elements.namedItem(name);
    if (!item) {
      return "";
    }
    return item.value || "";
  }

  function checkedValues(name) {
    return Array.from(form.querySelectorAll('input[name="' + name + '"]:checked')).map(function (el) {
      return el.value;
    });
  }

  function anchorFor(name) {
    return document.getElementById(name) || document.getElementById(name + "-0");
  }

  const asLead = window.Refuge.asLead; // error-lead.js, loaded before this

  /* The question a field (its ".field" wrapper) asks: its legend or label, without the
   * "(required)" mark; "" when it has none. The review (steps.js) names answers by it too. */
  function questionOf(field) {
    const label = field.querySelector("legend, label");
    if (!label) {
      return "";
    }
    const copy = label.cloneNode(true);
    for (const mark of copy.querySelectorAll(".required-mark")) {
      mark.remove();
    }
    return copy.textContent.trim();
  }

  function labelFor(name) {
    const field = document.getElementById(name + "-field");
    return (field && questionOf(field)) || name;
  }

  function clearErrors() {
    for (const p of form.querySelectorAll("[data-error-for]")) {
      p.textContent = "";
      p.hidden = true;
    }
    for (const el of form.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
    }
    for (const el of form.querySelectorAll(".field-invalid")) {
      el.classList.remove("field-invalid");
    }
    summaryList.replaceChildren();
    const notice = document.getElementById("error-summary-notice");
    if (notice) {
      notice.remove();
    }
    summary.hidden = true;
    if (answerLength) {
      answerLength.refresh(); // an answer still over its limit stays marked beside the field
    }
  }

  function inFormOrder(a, b) {
    const first = a.name && anchorFor(a.name);
    const second = b.name && anchorFor(b.name);
    if (!first || !second || first === second) {
      return 0;
    }
    return first.compareDocumentPosition(second) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
  }

  /* An error beside its field (the summary is showErrors' part). */
  function showBeside(error) {
    const p = form.querySelector('[data-error-for="' + error.name + '"]');
    if (p) {
      p.textContent = error.message;
      p.hidden = false;
    }
    const field = document.getElementById(error.name + "-field");
    if (field) {
      field.classList.add("field-invalid");
    }
    for (const el of form.querySelectorAll('[name="' + error.name + '"]')) {
      el.setAttribute("aria-invalid", "true");
      if (p && p.id && !(el.getAttribute("aria-describedby") || "").split(" ").includes(p.id)) {
        el.setAttribute("aria-describedby", ((el.getAttribute("aria-describedby") || "") + " " + p.id).trim());
      }
    }
  }

  function showErrors(errors) {
    errors.sort(inFormOrder);
    summaryList.replaceChildren();
    for (const error of errors) {
      const item = document.createElement("li");
      if (error.name) {
        showBeside(error);
        const link = document.createElement("a");
        const anchor = anchorFor(error.name);
        link.href = "#" + (anchor ? anchor.id : "");
        link.textContent = asLead(labelFor(error.name)) + error.message;
        item.appendChild(link);
      } else {
        item.textContent = error.message;
      }
      summaryList.appendChild(item);
    }
    summary.hidden = false;
    if (window.Refuge.steps && errors[0] && errors[0].name) {
      window.Refuge.steps.showStepOf(anchorFor(errors[0].name));
    }
    summary.focus();
  }

  /* The required answers left empty in root (one field, one step, or the whole form), with
   * the server's own message for each. Which fields are required is the server form's rule:
   * _fields.html marks them data-required (with that message); nothing here lists them again. */
  function missingIn(root) {
    const errors = [];
    const fields = Array.from(root.querySelectorAll("[data-required]"));
    if (root.matches && root.matches("[data-required]")) {
      fields.unshift(root); // one field
    }
    for (const field of fields) {
      const inputs = Array.from(field.querySelectorAll("input, textarea, select"));
      const answered = inputs.some(function (el) {
        return el.type === "radio" || el.type === "checkbox" ? el.checked : el.value.trim() !== "";
      });
      if (inputs.length && !answered) {
        const name = inputs[0].name;
        errors.push({ name: name, message: field.dataset.required, label: labelFor(name), anchor: anchorFor(name) });
      }
    }
    return errors;
  }

  /* The answers in root over their limit (answer-length.js counts as the server does), with
   * the server's message for each, and (for the review) the field's label as a lead. */
  function tooLongIn(root) {
    return (answerLength ? answerLength.tooLongIn(root) : []).map(function (error) {
      return {
        name: error.name,
        message: error.message,
        lead: asLead(labelFor(error.name)),
        anchor: anchorFor(error.name),
      };
    });
  }

  /* The files chosen in root (the form, a step, the field) over the form's limits, as one
   * error for the attachments field; none when submitter.js did not load (the server checks). */
  function fileProblemsIn(root) {
    const input = form.elements.namedItem("attachments");
    if (!seal || !input || !root.contains(input)) {
      return [];
    }
    const problems = seal.checkFiles(input, parseInt(data.maxFiles, 10), parseInt(data.maxBytes, 10), {
      tooMany: data.msgTooManyFiles,
      tooLarge: data.msgFileTooLarge,
      empty: data.msgFileEmpty,
    });
    if (!problems.length) {
      return [];
    }
    return [{ name: "attachments", message: seal.sentences(problems), label: labelFor("attachments"), anchor: anchorFor("attachments") }];
  }

  /* One step's required answers, lengths and files, checked before moving on: errors beside
   * the fields and in the summary, which takes the focus; nothing typed is touched. */
  function checkStep(step) {
    clearErrors();
    const errors = missingIn(step).concat(tooLongIn(step), fileProblemsIn(step));
    if (errors.length) {
      showErrors(errors);
      return false;
    }
    return true;
  }
  window.Refuge.questionOf = questionOf;
  window.Refuge.missingIn = missingIn;
  window.Refuge.tooLongIn = tooLongIn;
  window.Refuge.checkStep = checkStep;
  window.Refuge.fileProblemsIn = fileProblemsIn;
  // The stepped form was drawn before these checks existed: a reload on the review listed
  // nothing still to answer and ticked step 1 done. Drawn again, now with them.
  if (window.Refuge.steps && window.Refuge.steps.refresh) {
    window.Refuge.steps.refresh();
  }

  /* A field's error, beside it and in the summary, is taken back as soon as the field is
   * answered or corrected (the summary hides when nothing is left in it); an answer still too
   * long keeps its error, with the count it has now. Nothing new is shown while typing. */
  function takeBackError(name) {
    const line = form.querySelector('[data-error-for="' + name + '"]');
    if (line) {
      line.textContent = "";
      line.hidden = true;
    }
    const field = document.getElementById(name + "-field");
    if (field) {
      field.classList.remove("field-invalid");
    }
    for (const el of form.querySelectorAll('[name="' + name + '"]')) {
      el.removeAttribute("aria-invalid");
    }
    const anchor = anchorFor(name);
    for (const link of summaryList.querySelectorAll("a")) {
      if (anchor && link.getAttribute("href") === "#" + anchor.id) {
        link.closest("li").remove();
      }
    }
    if (!summaryList.children.length && !document.getElementById("error-summary-notice")) {
      summary.hidden = true;
    }
  }

  function recheck(event) {
    const name = event.target && event.target.name;
    const line = name && form.querySelector('[data-error-for="' + name + '"]');
    if (!line || line.hidden) {
      return; // no error shown for it
    }
    const field = document.getElementById(name + "-field") || event.target;
    const problem = missingIn(field)[0] || tooLongIn(field)[0] || fileProblemsIn(field)[0];
    if (!problem) {
      takeBackError(name);
    } else if (problem.message !== line.textContent) {
      line.textContent = problem.message;
      const anchor = anchorFor(name);
      const link = anchor && summaryList.querySelector('a[href="#' + anchor.id + '"]');
      if (link) {
        link.textContent = asLead(labelFor(name)) + problem.message;
      }
    }
  }
  form.addEventListener("input", recheck);
  form.addEventListener("change", recheck);

  // Files too many or too large are said beside the field as soon as they are chosen (not
  // first after Send, on another step); choosing again takes the error back.
  const attachments = form.elements.namedItem("attachments");
  if (attachments) {
    attachments.addEventListener("change", function () {
      const problem = fileProblemsIn(attachments)[0];
      if (problem) {
        showBeside(problem);
      } else {
        takeBackError("attachments");
      }
    });
  }

  /* Files chosen before a reload, not chosen again (steps.js): asked for at Send, once. After a
   * reload at the review the request went without them, the only word a notice at the top. */
  let filesAsked = false;
  function filesAgainIn() {
    const steps = window.Refuge.steps;
    const input = form.elements.namedItem("attachments");
    if (filesAsked || !steps || !steps.filesToAttach() || !input || (input.files && input.files.length)) {
      return [];
    }
    return [{ name: "attachments", message: data.msgFilesAgain, label: labelFor("attachments"), anchor: anchorFor("attachments") }];
  }

  function validate() {
    const others = missingIn(form).concat(tooLongIn(form), fileProblemsIn(form));
    const filesAgain = filesAgainIn();
    // Asked for once the files are the one thing left: pressed again, it goes without them, as
    // the message says. A Send refused for other answers too asks again at the next Send.
    if (filesAgain.length && !others.length) {
      filesAsked = true;
    }
    return others.concat(filesAgain);
  }

  /* The field a refusal from the server names (its JSON "field": the files, when one of them
   * was refused), when this form has it and shows errors beside it; else null. "answers" (the
   * answers together too long to seal) is said beside the answer that takes most room. */
  function fieldOfRefusal(result) {
    let name = typeof result.field === "string" ? result.field : "";
    if (name === "answers") {
      name = roomiestAnswer();
    }
    return name && form.querySelector('[data-error-for="' + CSS.escape(name) + '"]') ? name : null;
  }

  /* The free-text answer that takes most room sealed (its UTF-8 bytes, as the seal counts). */
  function roomiestAnswer() {
    const encoder = new TextEncoder();
    let roomiest = "";
    let most = -1;
    for (const el of form.querySelectorAll("[data-max-chars]")) {
      const size = encoder.encode(el.value || "").length;
      if (size > most) {
        most = size;
        roomiest = el.name;
      }
    }
    return roomiest;
  }

  function routingBody(keyInfo) {
    const body = new FormData();
    body.append("org_key_id", String(keyInfo.org_key_id));
    body.append("urgency", valueOf("urgency"));
    for (const name of ["threats", "profiles"]) {
      for (const value of checkedValues(name)) {
        body.append(name, value);
      }
    }
    body.append("country", valueOf("country"));
    const languages = checkedValues("languages");
    const other = valueOf("languages_other");
    if (other && languages.indexOf(other) === -1) {
      languages.push(other);
    }
    for (const code of languages) {
      body.append("languages", code);
    }
    // Consent in the clear is a yes/no for referrals: everyone agreed and sharing is allowed.
    const consent = valueOf("consent") === "yes" && valueOf("referral_consent") === "yes";
    body.append("consent_given", consent ? "1" : "0");
    body.append("website", valueOf("website"));
    return body;
  }

  function showReceipt(code, again) {
    const panel = document.getElementById("receipt-panel");
    document.getElementById("receipt-code").textContent = code;
    const againNote = document.getElementById("receipt-again");
    if (againNote) {
      againNote.hidden = !again;
    }
    const newRequest = document.getElementById("receipt-new-request-row");
    if (newRequest) {
      newRequest.hidden = false;
    }
    form.hidden = true;
    const intro = document.getElementById("request-intro");
    if (intro) {
      intro.hidden = true;
    }
    summary.hidden = true;
    panel.hidden = false;
    // Someone in danger now keeps "what to do now" on screen, under the receipt, as the
    // receipt page without JavaScript shows it: out of the form, which is hidden now.
    const urgent = document.getElementById("urgent-help");
    const urgentPanel = document.getElementById("urgent-help-panel");
    if (urgent && urgentPanel && (!urgentPanel.hidden || valueOf("urgency") === "immediate")) {
      panel.after(urgent);
      urgent.querySelectorAll("[data-before-sending]").forEach(function (line) {
        line.hidden = true;
      });
      urgent.querySelectorAll("[data-after-sending]").forEach(function (line) {
        line.hidden = false;
      });
    }
    if (window.Refuge.receipt) {
      window.Refuge.receipt.bind();
    }
    panel.focus();
  }

  /* This tab sent a request whose code the person has not said is written down (receipt.js
   * keeps it in sessionStorage): a reload or a return to /request shows that receipt again,
   * not an empty form to send a second time. Its "Start a new request" link comes back here
   * with ?new=1, which forgets it. The "Immediate" routing facts go back into the (hidden)
   * form, without an input event (so they are not kept as a draft), for urgent-help.js. */
  function showReceiptSentBefore() {
    const receipt = window.Refuge.receipt;
    if (!receipt) {
      return false;
    }
    const address = new URL(window.location.href);
    if (address.searchParams.has("new")) {
      receipt.forgetSent();
      address.searchParams.delete("new");
      // The entry keeps its state (steps.js: the step it shows).
      window.history.replaceState(window.history.state, "", address.pathname + address.search + address.hash);
      return false;
    }
    const sent = receipt.sentInThisTab();
    if (!sent) {
      return false;
    }
    if (sent.urgent) {
      const immediate = form.querySelector("input[name=urgency][value=immediate]");
      if (immediate) {
        immediate.checked = true;
      }
      for (const threat of Array.isArray(sent.urgent.threats) ? sent.urgent.threats : []) {
        const box = form.querySelector('input[name=threats][value="' + CSS.escape(String(threat)) + '"]');
        if (box) {
          box.checked = true;
        }
      }
      const country = form.elements.namedItem("country");
      if (country && typeof sent.urgent.country === "string") {
        country.value = sent.urgent.country;
      }
    }
    showReceipt(sent.code, true);
    return true;
  }
  const sentBefore = showReceiptSentBefore();

  // Drafts: only if the person opts in on this device (off by default), never files.
  const draftOption = document.getElementById("draft-option");
  const keepDraft = document.getElementById("keep-draft");
  function draftFields() {
    return Array.from(form.querySelectorAll("textarea, input[type=text]:not([name=website]), select"));
  }
  function saveDraft() {
    if (!keepDraft.checked) {
      return;
    }
    const draft = {};
    for (const el of draftFields()) {
      draft[el.name] = el.value;
    }
    for (const el of form.querySelectorAll("input[type=radio]:checked, input[type=checkbox][name]:checked")) {
      draft[el.name + "=" + el.value] = true;
    }
    localStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
  }
  /* Put a kept draft back in the empty fields; returns the fields it filled. */
  function restoreDraft() {
    let draft = null;
    try {
      draft = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null");
    } catch (error) {
      draft = null;
    }
    if (!draft) {
      return [];
    }
    keepDraft.checked = true;
    const filled = [];
    for (const el of draftFields()) {
      if (typeof draft[el.name] === "string" && draft[el.name] && !el.value) {
        el.value = draft[el.name];
        filled.push(el);
      }
    }
    for (const el of form.querySelectorAll("input[type=radio], input[type=checkbox][name]")) {
      // A choice made in this tab stands: the draft fills only a question left unanswered.
      const chosen = el.type === "radio" && form.querySelector('input[type=radio][name="' + el.name + '"]:checked');
      if (draft[el.name + "=" + el.value] && !el.checked && !chosen) {
        el.checked = true;
        filled.push(el);
      }
    }
    return filled;
  }

  /* A draft put back says so, with a way to delete it (from the device and the fields it
   * filled; what was typed in this tab stays). */
  function offerToDelete(filled) {
    const notice = document.getElementById("draft-restored-notice");
    const button = document.getElementById("delete-draft");
    if (!filled.length || !notice || !button) {
      return;
    }
    notice.hidden = false;
    button.addEventListener("click", function () {
      localStorage.removeItem(DRAFT_KEY);
      keepDraft.checked = false;
      for (const el of filled) {
        if (el.type === "radio" || el.type === "checkbox") {
          el.checked = false;
        } else {
          el.value = "";
        }
        el.dispatchEvent(new Event("input", { bubbles: true }));
      }
      notice.hidden = true;
      const deleted = document.getElementById("draft-deleted");
      if (deleted) {
        deleted.hidden = false; // said, not only gone: one tap emptied the form silently
      }
    });
  }
  if (draftOption && keepDraft && !sentBefore) {
    try {
      draftOption.hidden = false;
      offerToDelete(restoreDraft());
      keepDraft.addEventListener("change", function () {
        if (keepDraft.checked) {
          saveDraft();
        } else {
          localStorage.removeItem(DRAFT_KEY);
        }
      });
      form.addEventListener("input", saveDraft);
      form.addEventListener("change", saveDraft);
    } catch (error) {
      draftOption.hidden = true; // storage blocked: no drafts
    }
  }

  /* Whether this browser can seal: libsodium loaded, its WebAssembly started, a seal works.
   * Waits as long as libsodium is still arriving (a slow link is no reason to send unsealed);
   * once it has, its start is given SEAL_READY_MS. */
  async function canSeal() {
    await seal.loaded();
    if (typeof sodium === "undefined") {
      return false;
    }
    try {
      await Promise.race([
        seal.ready(),
        new Promise(function (resolve, reject) {
          setTimeout(function () {
            reject(new Error("sodium not ready"));
          }, SEAL_READY_MS);
        }),
      ]);
      return sodium.crypto_box_seal(new Uint8Array(1), sodium.crypto_box_keypair().publicKey).length > 1;
    } catch (error) {
      return false;
    }
  }

  /* While the request is being sent (it can take seconds on Tor or a phone), the form is
   * busy (submitter.setBusy, as the follow-up on /status): Send and the language buttons are
   * disabled, and so is the step navigation (steps.js), so nobody goes back and edits answers
   * that will not be sent; the "sending" line is on screen. When the send fails, everything
   * works again. */
  const sendButton = document.getElementById("send-request");
  // Whether this browser can seal is known once libsodium has arrived and started (canSeal):
  // a Send pressed before waits for it (waitingToSeal), unless an answer changes meanwhile.
  let sealingKnown = !seal;
  let waitingToSeal = false;
  const sealing = seal ? canSeal() : Promise.resolve(false);
  sealing.then(function () {
    sealingKnown = true;
  });
  form.addEventListener("input", function () {
    if (waitingToSeal) {
      waitingToSeal = false;
      statusLine.textContent = "";
    }
  });
  function setBusy(on) {
    busy = on;
    seal.setBusy(form, sendButton, on);
    if (window.Refuge.steps) {
      window.Refuge.steps.lock(on);
    }
  }

  function sayStatus(message) {
    seal.sayStatus(statusLine, message);
  }

  /* How much of the request has gone, said in tenths: each change is announced (a live
   * region), and is not scrolled to, so that the person can read the page meanwhile. */
  let tenthSaid = -1;
  function sayProgress(sent, total) {
    const tenth = Math.floor((10 * sent) / total);
    if (tenth !== tenthSaid && tenth < 10) {
      tenthSaid = tenth;
      statusLine.textContent = seal.progressText(data.msgProgress, sent, total);
    }
  }

  const sealFailed = document.getElementById("seal-failed");
  function askBeforeServerSealing() {
    statusLine.textContent = "";
    sealFailed.hidden = false;
    sealFailed.focus();
  }
  document.getElementById("send-unsealed").addEventListener("click", function () {
    // The person agreed: post the form as without JavaScript (the server seals, then shows
    // the receipt page, which forgets the tab's copy).
    sealFailed.hidden = true;
    HTMLFormElement.prototype.submit.call(form);
  });
  document.getElementById("cancel-unsealed").addEventListener("click", function () {
    sealFailed.hidden = true;
    document.getElementById("send-request").focus();
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (busy || (event.submitter && event.submitter.hasAttribute("data-language-url"))) {
      return; // a language button never sends the request (steps.js makes it a link)
    }
    clearErrors();
    const errors = validate();
    if (errors.length) {
      showErrors(errors);
      return;
    }
    if (!seal) {
      askBeforeServerSealing(); // submitter.js did not load: nothing here seals, or waits
      return;
    }
    if (!sealingKnown) {
      // libsodium is still on its way: this request goes once it is there, if still wanted.
      const already = waitingToSeal;
      waitingToSeal = true;
      sayStatus(data.msgPreparing);
      if (already) {
        return; // the press before is waiting already
      }
      await sealing;
      if (!waitingToSeal) {
        return; // called off by an answer changed meanwhile
      }
      waitingToSeal = false;
    }
    setBusy(true);
    sayStatus(data.msgSealing);
    tenthSaid = -1;
    if (!(await canSeal())) {
      setBusy(false);
      askBeforeServerSealing();
      return;
    }
    let failure = null;
    let failureField = null; // the field the server's refusal is about (the files), if any
    try {
      const token = submissionToken();
      const answers = {};
      for (const name of sealedFields) {
        answers[name] = valueOf(name);
      }
      const input = form.elements.namedItem("attachments");
      const sent = await seal.send(form, data.keyUrl, Array.from((input && input.files) || []), function (keyInfo) {
        const body = routingBody(keyInfo);
        body.append("sealed_answers", seal.sealObject(answers, keyInfo));
        body.append("submission_token", token);
        return body;
      }, {
        onWork: function () {
          sayStatus(data.msgWorking);
          tenthSaid = -1; // sent once more, from the start
        },
        onUpload: sayProgress,
        onUploaded: function () {
          statusLine.textContent = data.msgConfirming;
        },
      });
      statusLine.textContent = "";
      if (sent.ok && sent.result.receipt_code) {
        if (keepDraft) {
          localStorage.removeItem(DRAFT_KEY);
        }
        pageToken = null;
        if (window.Refuge.steps) {
          window.Refuge.steps.forget(); // the answers, and the token with them
        }
        showReceipt(sent.result.receipt_code);
      } else if (sent.result && sent.result.error) {
        failure = sent.result.error; // the server answered with what it refused, and why
        failureField = fieldOfRefusal(sent.result);
      } else if (sent.status >= 400 && sent.status < 500 && sent.answered) {
        failure = data.msgFailed; // refused: nothing was filed
      } else {
        failure = data.msgUnconfirmed; // a lost or broken answer: it may have been filed
      }
    } catch (error) {
      statusLine.textContent = "";
      if (error && error.stalled) {
        // Given up on a silent link (before or after the request left): sending again is safe.
        failure = data.msgStalled;
      } else if (error && error.unanswered) {
        // The request may have arrived: sending again is safe (the submission token files it
        // once), so it must not read as "could not be sent", which makes people start anew.
        failure = data.msgUnconfirmed;
      } else {
        failure = navigator.onLine === false ? data.msgOffline : data.msgFailed;
      }
    } finally {
      setBusy(false);
    }
    if (failure) {
      // After setBusy(false): it may change the step (to the field's, for one beside a field).
      showErrors([failureField ? { name: failureField, message: failure } : { message: failure }]);
    }
  });

  if (answerLength) {
    answerLength.bind(); // its listeners after this script's (see answer-length.js)
  }
  // This script sends the form from now on: a press held by send-guard.js goes on.
  if (guard) {
    guard.ready(form, guard.SEND);
  }
})();
