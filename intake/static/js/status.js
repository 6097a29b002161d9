/* Refuge: /status with JavaScript on.
 *
 * Replies from caseworkers are sealed to the reply key derived from the receipt code; they are
 * opened here (never on the server) and shown with textContent. Follow-up messages and files
 * are sealed to the organisation key before they are sent.
 *
 * libsodium arrives after this script (on 2G, seconds after the page can be typed in): until
 * it has started, a press of Send or of a language button waits (send-guard.js holds it and
 * says so), then goes on by itself. When it does not load (blocked), this script stands aside
 * and the follow-up form posts as without JavaScript, once the person was told (send-guard.js).
 * While a message is being sent, the line beside Send says how much has gone; a link that
 * went silent is given up (submitter.js) and the person told it is safe to press Send again.
 */
(function () {
  "use strict";
  const seal = window.Refuge && window.Refuge.submitter;
  const codeInput = document.getElementById("receipt-code-input");
  if (!seal || !codeInput) {
    return; // the follow-up form then posts as without JavaScript (send-guard.js says so first)
  }
  const sealed = window.Refuge.sealed;
  const guard = window.Refuge.sendGuard; // send-guard.js, the page's first script
  let standingAside = false; // libsodium did not load: the form posts as without JavaScript

  async function openReplies() {
    const list = document.getElementById("thread");
    if (!list) {
      return;
    }
    await seal.ready();
    const code = seal.normaliseCode(codeInput.value);
    const keypair = code ? seal.replyKeypair(code) : null;
    for (const el of list.querySelectorAll("[data-sealed-reply]")) {
      try {
        // Replies are sealed like every message: padded JSON {"body": …}.
        showBody(el, sealed.openBody(el.dataset.sealedReply, keypair));
        el.classList.add("reply-opened");
      } catch (error) {
        el.textContent = list.dataset.cannotOpen;
      }
    }
    // Times in the reader's own time zone, with its offset.
    for (const el of list.querySelectorAll("time[datetime]")) {
      const when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        el.textContent = localTime(when);
      }
    }
  }

  /* A message's text, or that it was files alone (an empty box said nothing at all). */
  function showBody(el, text) {
    const list = document.getElementById("thread");
    if (!text.trim() && list && list.dataset.filesOnly) {
      el.textContent = list.dataset.filesOnly;
      el.classList.add("files-only");
      return;
    }
    sealed.showText(el, text);
  }

  function localTime(when) {
    const offset = -when.getTimezoneOffset();
    const sign = offset >= 0 ? "+" : "-";
    const pad = function (n) {
      return String(Math.floor(Math.abs(n))).padStart(2, "0");
    };
    return when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" + pad(when.getDate()) + " " +
      pad(when.getHours()) + ":" + pad(when.getMinutes()) + " (UTC" + sign + pad(offset / 60) + ":" + pad(offset % 60) + ")";
  }

  // The message just sent, at the end of the thread as the page without JavaScript shows it
  // ("You wrote"): the text typed here, inserted as text, never as HTML.
  /* filesNote: what the server said of the files sent with it ("with 2 files"), or "". */
  function showSent(text, filesNote) {
    const list = document.getElementById("thread");
    if (!list) {
      return;
    }
    const item = document.createElement("li");
    item.className = "reply message-own";
    const meta = document.createElement("p");
    meta.className = "hint";
    const who = document.createElement("strong");
    who.textContent = list.dataset.youWrote;
    const now = new Date();
    const when = document.createElement("time");
    when.setAttribute("datetime", now.toISOString());
    when.dir = "ltr"; // as the page's own times: a date in Arabic text otherwise turns around
    when.textContent = localTime(now);
    meta.append(who, " · ", when);
    if (filesNote) {
      const files = document.createElement("span");
      files.dataset.filesSent = "";
      files.textContent = filesNote;
      meta.append(" · ", files);
    }
    const body = document.createElement("p");
    body.className = "message-body reply-body reply-opened";
    body.setAttribute("dir", "auto"); // its own direction, as the page without JavaScript has it
    showBody(body, text);
    item.append(meta, body);
    list.appendChild(item);
    list.hidden = false;
    const hint = document.getElementById("replies-hint");
    if (hint) {
      hint.hidden = false;
    }
    const empty = document.getElementById("thread-empty");
    if (empty) {
      empty.remove();
    }
  }

  const form = document.getElementById("follow-up-form");
  const summary = document.getElementById("error-summary");
  const summaryList = document.getElementById("error-summary-list");
  const answerLength = window.Refuge && window.Refuge.answerLength; // answer-length.js
  let busy = false;

  /* While a message is being sent, the form is busy as the request form is (submitter.setBusy:
   * aria-busy, Send and the language buttons disabled), and the message and files cannot be
   * changed: what is in the form is what is sent, and is cleared once it is stored. */
  function setBusy(on) {
    busy = on;
    seal.setBusy(form, document.getElementById("send-follow-up"), on);
    form.elements.namedItem("body").readOnly = on;
    form.elements.namedItem("attachments").disabled = on;
  }

  const asLead = window.Refuge.asLead; // error-lead.js, loaded before this

  function labelFor(name) {
    const label = document.querySelector("#" + name + "-field label");
    if (!label) {
      return name;
    }
    const copy = label.cloneNode(true);
    for (const mark of copy.querySelectorAll(".required-mark")) {
      mark.remove();
    }
    return copy.textContent.trim();
  }

  /* A field's error shown (message) or taken back (null): beside the field, on the field, and
   * as its line in the summary, as the page without JavaScript shows it. */
  function markField(name, message) {
    const line = form.querySelector('[data-error-for="' + name + '"]');
    if (line) {
      line.textContent = message || "";
      line.hidden = !message;
    }
    const input = form.elements.namedItem(name);
    if (input) {
      if (message) {
        input.setAttribute("aria-invalid", "true");
      } else {
        input.removeAttribute("aria-invalid");
      }
    }
    const field = document.getElementById(name + "-field");
    if (field) {
      field.classList.toggle("field-invalid", Boolean(message));
    }
    const link = summaryList.querySelector('a[href="#' + name + '"]');
    if (link && message) {
      link.textContent = asLead(labelFor(name)) + message;
    } else if (link) {
      link.closest("li").remove();
      summary.hidden = summaryList.children.length === 0;
    }
  }

  /* problems: {name, message} for a field (the message and the files: each line of the summary
   * a link to its field, labelled, and the error beside the field, as the server's summary and
   * the request form's), or {message} for the form as a whole (a failed send). */
  function showProblems(problems) {
    summaryList.replaceChildren();
    for (const name of ["body", "attachments"]) {
      markField(name, null);
    }
    for (const problem of problems) {
      const item = document.createElement("li");
      if (problem.name) {
        const link = document.createElement("a");
        link.href = "#" + problem.name;
        item.appendChild(link);
      } else {
        item.textContent = problem.message;
      }
      summaryList.appendChild(item);
      if (problem.name) {
        markField(problem.name, problem.message);
      }
    }
    summary.hidden = problems.length === 0;
    if (problems.length) {
      summary.focus();
    }
    if (answerLength) {
      answerLength.refresh(); // a message still over its limit stays counted beside the box
    }
  }

  /* A message, files, or both (a photo of a summons may say all there is to say). */
  function bodyProblems(body) {
    const problems = [];
    const files = form.elements.namedItem("attachments");
    if (!body.value.trim() && !(files && files.files && files.files.length)) {
      problems.push(form.dataset.msgRequired);
    }
    // Over its limit: said beside the field by answer-length.js, and here, as the server would.
    if (answerLength) {
      problems.push.apply(problems, answerLength.tooLongIn(body).map(function (error) {
        return error.message;
      }));
    }
    return problems;
  }

  /* An error is taken back as soon as the message is written or shortened enough, as on the
   * request form; one still too long says its count as it is now. Nothing new while typing. */
  function recheckBody(event) {
    const line = form.querySelector('[data-error-for="body"]');
    const name = event.target.name;
    if (busy || (name !== "body" && name !== "attachments") || !line || line.hidden) {
      return;
    }
    markField("body", seal.sentences(bodyProblems(form.elements.namedItem("body"))) || null);
  }

  // A language button (base.html: it submits this form, as without JavaScript) must not post
  // the message in the clear: the message waits in this tab, and only the code is posted
  // (#status-language) to the page in that language, which puts the message back.
  //
  // The message being sent waits there too, with its submission token (one per written
  // message): if the answer is lost on the way (the server may have stored it), the retry,
  // even after a reload, sends the same token and the server stores the message once. Text
  // changed since is a new message with a new token. The entry names its case by the tag the
  // server puts on the form (a keyed hash of the case), so that another case's page in this
  // tab never takes it up. Not a hash made with libsodium, as it was: that arrives last, and
  // the message came back only then (13 s on 2G), while what was typed meanwhile lost it.
  const DRAFT = "refuge.status-draft";
  const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
  let pending = null; // {body, token}: the message sent last and not yet known to be stored

  function caseTag() {
    return (form && form.dataset.draftTag) || "";
  }

  function keepDraft(text, token) {
    try {
      window.sessionStorage.setItem(DRAFT, JSON.stringify({ for: caseTag(), body: text, token: token || null }));
    } catch (error) {
      // Storage refused (private mode): the message stays in the form, the token in memory.
    }
  }

  function forgetDraft() {
    try {
      window.sessionStorage.removeItem(DRAFT);
    } catch (error) {
      // nothing kept
    }
  }

  /* The token of the message being sent: the same one for the same text as last time. */
  function tokenFor(text) {
    if (!pending || pending.body !== text) {
      pending = { body: text, token: seal.newSubmissionToken() };
    }
    keepDraft(pending.body, pending.token);
    return pending.token;
  }

  /* The message being written waits in this tab while the page is left for a moment. */
  function keepWhileAway() {
    const body = form.elements.namedItem("body");
    if (body.value) {
      keepDraft(body.value, pending && pending.body === body.value ? pending.token : null);
    }
  }

  function changeLanguage(button) {
    const codeOnly = document.getElementById("status-language");
    codeOnly.action = button.dataset.languageUrl;
    // The kept message is named by a hash of the code (libsodium: started by now when
    // send-guard.js held the press till then).
    seal.ready().then(keepWhileAway).catch(function () {
      // libsodium did not load: the language changes all the same
    }).finally(function () {
      codeOnly.submit();
    });
  }

  function restoreDraft() {
    let draft = null;
    try {
      draft = JSON.parse(window.sessionStorage.getItem(DRAFT) || "null");
    } catch (error) {
      return;
    }
    if (!caseTag() || !draft || typeof draft !== "object" || draft.for !== caseTag() || typeof draft.body !== "string") {
      return; // none, or another case's
    }
    const body = form.elements.namedItem("body");
    const sending = typeof draft.token === "string" && TOKEN_PATTERN.test(draft.token);
    if (!body.value) {
      body.value = draft.body;
    } else if (body.value !== draft.body && !sending) {
      // Typed before this ran (the scripts still on their way): the kept message first, and
      // what was typed after it; neither is lost.
      body.value = draft.body + "\n\n" + body.value;
    }
    if (sending) {
      pending = { body: draft.body, token: draft.token }; // kept until it is known to be stored
    } else {
      forgetDraft(); // a language change's draft: back in the form, done
    }
  }

  if (form) {
    const data = form.dataset;
    const statusLine = document.getElementById("send-status");
    if (guard) {
      guard.claim(form); // presses wait until libsodium has started (or failed to load)
    }
    restoreDraft(); // at once: it needs nothing of libsodium
    seal.ready().then(function () {
      if (guard) {
        guard.ready(form, guard.SEND);
        guard.ready(form, guard.LANGUAGE);
      }
    }, function () {
      standingAside = true;
      if (guard) {
        guard.cannotSeal(form);
      }
    });
    form.addEventListener("input", recheckBody);
    if (answerLength) {
      answerLength.bind(); // its listener after recheckBody (see answer-length.js)
    }

    /* How much of the message has gone, said in tenths (each change is announced). */
    let tenthSaid = -1;
    const sayProgress = function (sent, total) {
      const tenth = Math.floor((10 * sent) / total);
      if (tenth !== tenthSaid && tenth < 10) {
        tenthSaid = tenth;
        statusLine.textContent = seal.progressText(data.msgProgress, sent, total);
      }
    };
    /* What is true of a send the server answered but did not store for sure: its own reason
     * (a 4xx with an error), "could not be sent" (refused), or "could not confirm" (a
     * gateway's 5xx or a cut-off answer: it may have been stored). */
    function failureOf(sent) {
      if (sent.result && sent.result.error) {
        return sent.result.error;
      }
      if (sent.status >= 400 && sent.status < 500 && sent.answered) {
        return data.msgFailed;
      }
      return data.msgUnconfirmed;
    }

    /* What is true of a send that got no answer. No answer to the POST: it may have been
     * stored, and sending again is safe (the submission token stores it once), which "could
     * not be sent" would hide. The server not reached at all (offline: the key could not be
     * fetched, nothing was posted): said as the request form says it, so that the person
     * waits for a connection rather than pressing Send again and again. */
    function failureOfError(error) {
      if (error && error.stalled) {
        return data.msgStalled; // given up on a silent link: it may have arrived; safe to resend
      }
      if (error && error.unanswered) {
        return data.msgUnconfirmed;
      }
      if ((error && error.unreached) || navigator.onLine === false) {
        return data.msgOffline;
      }
      return data.msgFailed;
    }

    // Withdrawing a consent leaves this page (a confirmation, then this page again): the message
    // being written waits in this tab meanwhile, as for a language change, and comes back.
    for (const withdraw of document.querySelectorAll("#status-consent form")) {
      withdraw.addEventListener("submit", keepWhileAway);
    }

    form.addEventListener("submit", async function (event) {
      if (standingAside) {
        return; // posted as without JavaScript (send-guard.js said so at the first press)
      }
      event.preventDefault();
      if (busy) {
        return; // not a second copy, and no language change that would leave mid-send
      }
      if (event.submitter && event.submitter.dataset.languageUrl) {
        changeLanguage(event.submitter);
        return;
      }
      const body = form.elements.namedItem("body");
      const files = form.elements.namedItem("attachments");
      const problems = [];
      const bodyErrors = bodyProblems(body);
      if (bodyErrors.length) {
        problems.push({ name: "body", message: seal.sentences(bodyErrors) });
      }
      const fileErrors = seal.checkFiles(files, parseInt(data.maxFiles, 10),
        parseInt(data.maxBytes, 10),
        { tooMany: data.msgTooManyFiles, tooLarge: data.msgFileTooLarge, empty: data.msgFileEmpty });
      if (fileErrors.length) {
        problems.push({ name: "attachments", message: seal.sentences(fileErrors) });
      }
      showProblems(problems);
      if (problems.length) {
        return;
      }
      setBusy(true);
      seal.sayStatus(statusLine, data.msgSealing);
      tenthSaid = -1;
      try {
        await seal.ready();
        const text = body.value; // what is sealed is what the token was made for
        const token = tokenFor(text);
        const sent = await seal.send(form, data.keyUrl, Array.from(files.files || []), function (keyInfo) {
          const payload = new FormData();
          payload.append("code", codeInput.value);
          payload.append("org_key_id", String(keyInfo.org_key_id));
          payload.append("sealed_body", seal.sealObject({ body: text }, keyInfo));
          payload.append("submission_token", token);
          // A second copy to this person's own reply key, so they can reread it here.
          const own = seal.normaliseCode(codeInput.value);
          if (own) {
            payload.append("sealed_for_submitter", seal.sealObject({ body: text },
              { public_key: seal.replyKeypair(own).publicKey }));
          }
          return payload;
        }, {
          onUpload: sayProgress,
          onUploaded: function () {
            statusLine.textContent = data.msgConfirming;
          },
        });
        if (!sent.ok) { // a 2xx stored it, whether or not its body arrived whole
          statusLine.textContent = "";
          // A refusal of the files or of the message (the JSON names the field; a message too
          // long to seal, which only bytes tell) is said beside them.
          const named = sent.result && sent.result.field;
          const field = named === "attachments" || named === "body" ? named : null;
          showProblems([field ? { name: field, message: failureOf(sent) } : { message: failureOf(sent) }]);
          return;
        }
        pending = null;
        forgetDraft();
        showSent(text, sent.result && typeof sent.result.files_note === "string" ? sent.result.files_note : "");
        body.value = "";
        files.value = "";
        // Said to the picker's line too (file-picker.js), which still named the files sent.
        files.dispatchEvent(new Event("change"));
        statusLine.textContent = data.msgSent;
        // Said where it can be seen: below Send, which may sit at the phone screen's foot, and
        // the message just added to the thread above moves the page.
        statusLine.scrollIntoView({ block: "nearest" });
      } catch (error) {
        statusLine.textContent = "";
        showProblems([{ message: failureOfError(error) }]);
      } finally {
        setBusy(false);
      }
    });
  }

  openReplies().catch(function () {
    // libsodium did not load: the messages say "Opening…" as the server wrote them
  });
})();
