/* Refuge: the intake form as short steps, and nothing lost on reload (window.Refuge.steps).
 *
 * Without JavaScript the form is one page with the essentials first and the optional parts
 * folded. With it, one step is shown at a time with a progress line. A step with required
 * answers (marked data-required from the server's form) is checked by its Next button, has no
 * Skip, and the other steps can be skipped. A step is not ticked in the progress line while a
 * required answer is missing, an answer is over its limit or a file is refused (too many, too
 * large: intake.js says so beside the field when they are chosen and on Next); such a step is
 * marked for attention, and the review links to each of those (Send refuses them too; a
 * skipped step is not checked). A step with nothing answered is not ticked either, and the
 * review calls it "not answered". The phone's Back and Forward buttons move between the steps
 * gone through, as the form's Back does (each is an entry in the tab's history), and a reload
 * (or a later visit in this tab) opens the step it was on. What is typed is kept in this tab's
 * sessionStorage (survives a reload and the camera round-trip, gone when the tab closes or the
 * request is sent), and with it the request's submission token once Send was pressed. Files
 * are never kept. This script does no sealing: intake.js seals once, at the end.
 *
 * On a slow link the long form is on screen, and typed in, seconds before this script runs.
 * It then opens on the step of the field being typed in (the focus, else the field typed in
 * last, which send-guard.js noted), which keeps the focus and the caret, and the field stays
 * where it was on screen: hiding the step being written in sent the focus to the page, and
 * the next words were lost (a review on 2G).
 */
(function () {
  "use strict";
  const form = document.getElementById("intake-form");
  if (!form) {
    return;
  }
  const SESSION_KEY = "refuge-intake-session";
  // Kept with the answers, under a name no field has: the request's submission token, made by
  // intake.js at the first Send, so that a reload and a resend are still one request.
  const TOKEN_ENTRY = "#submission_token";
  // How many files were chosen (their number only: files themselves cannot be kept). After a
  // reload the field is empty, and the notice said everything typed was back: the request
  // could go without its evidence. Kept until files are chosen again.
  const FILES_ENTRY = "#files";
  // The step shown: the form opens there again whenever the answers come back (a language
  // change, a later visit in this tab, a reload whose history entry lost its step because the
  // browser showed its own "site can't be reached" page meanwhile: that reload opened step 1).
  const STEP_ENTRY = "#step";
  const data = form.dataset;
  const steps = Array.from(form.querySelectorAll(".form-step"));
  const progress = document.getElementById("step-progress");
  const progressText = document.getElementById("step-progress-text");
  const nav = document.getElementById("step-nav");
  const back = document.getElementById("step-back");
  const next = document.getElementById("step-next");
  const skip = document.getElementById("step-skip");
  const review = document.getElementById("review-list");
  const guard = window.Refuge && window.Refuge.sendGuard; // send-guard.js, the page's first script
  // The field being written in before this script ran (the focus, else the last one typed
  // in), and where it is on screen: the form opens on its step and keeps it in place.
  const writing = fieldBeingWritten();
  const writingTop = writing ? writing.getBoundingClientRect().top : 0;
  let current = 0;
  let keptToken = null;
  let keptStep = null; // the step shown when the answers were last kept (STEP_ENTRY)
  let filesToAttach = 0; // chosen before a reload, not chosen again yet
  let locked = false; // while the request is being sent: no step changes (intake.js)
  let finished = false; // the request was sent: the steps are gone, the receipt is shown
  // The phone's Back button goes to the step before, as the form's own Back does: each step
  // the person moves to is an entry in the tab's history (the same address, the step's number
  // in the entry's state), so Back never leaves the form and what was typed in it by mistake.
  let position = 0; // how many of the form's entries lie before this one in the tab's history

  function fieldBeingWritten() {
    const focused = document.activeElement;
    if (focused && focused !== document.body && form.contains(focused) && focused.closest(".form-step")) {
      return focused;
    }
    const typed = guard && guard.lastTyped();
    return typed && form.contains(typed) && typed.closest(".form-step") ? typed : null;
  }

  function keptFields() {
    return Array.from(form.querySelectorAll("textarea, input[type=text]:not([name=website]), select"));
  }

  function snapshot() {
    const kept = {};
    if (keptToken) {
      kept[TOKEN_ENTRY] = keptToken;
    }
    for (const el of keptFields()) {
      if (el.value) {
        kept[el.name] = el.value;
      }
    }
    for (const el of form.querySelectorAll("input[type=radio]:checked, input[type=checkbox][name]:checked")) {
      kept[el.name + "=" + el.value] = true;
    }
    const chosen = Array.from(form.querySelectorAll("input[type=file]")).reduce(function (sum, el) {
      return sum + (el.files ? el.files.length : 0);
    }, 0);
    if (chosen || filesToAttach) {
      kept[FILES_ENTRY] = chosen || filesToAttach;
    }
    kept[STEP_ENTRY] = current;
    return kept;
  }

  /* Files chosen before a reload: asked for again beside the file field and in the notice,
   * until some are chosen. */
  function askForFiles(count) {
    filesToAttach = count;
    for (const el of document.querySelectorAll("[data-files-again]")) {
      el.hidden = !count;
      const input = el.id && el.parentElement.querySelector("input[type=file]");
      if (input) {
        // Said with the field only while shown (a hidden description is read all the same).
        const ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
          return id && id !== el.id;
        });
        input.setAttribute("aria-describedby", ids.concat(count ? [el.id] : []).join(" "));
      }
    }
  }

  function keepInSession() {
    try {
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(snapshot()));
    } catch (error) {
      // storage blocked or full: the form still works, it just is not kept
    }
  }

  function restoreFromSession() {
    let kept = null;
    try {
      kept = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch (error) {
      kept = null;
    }
    if (!kept || typeof kept !== "object") {
      return false;
    }
    if (typeof kept[TOKEN_ENTRY] === "string" && /^[A-Za-z0-9_-]{43}$/.test(kept[TOKEN_ENTRY])) {
      keptToken = kept[TOKEN_ENTRY];
    }
    let restored = false;
    for (const el of keptFields()) {
      if (typeof kept[el.name] === "string" && !el.value) {
        el.value = kept[el.name];
        restored = true;
      }
    }
    for (const el of form.querySelectorAll("input[type=radio], input[type=checkbox][name]")) {
      if (kept[el.name + "=" + el.value] && !el.checked) {
        el.checked = true;
        restored = true;
      }
    }
    if (Number.isInteger(kept[STEP_ENTRY]) && kept[STEP_ENTRY] >= 0) {
      keptStep = kept[STEP_ENTRY];
    }
    const files = Number(kept[FILES_ENTRY]);
    if (Number.isInteger(files) && files > 0) {
      askForFiles(files);
      restored = true;
    }
    return restored;
  }

  /* The request's submission token: the one kept in this tab, else make() makes it and it is
   * kept from now on, until the request is sent (forget) or the tab is closed. */
  function submissionToken(make) {
    if (!keptToken) {
      keptToken = make();
      keepInSession();
    }
    return keptToken;
  }

  /* The request was sent (intake.js shows the receipt): the answers and the token are
   * forgotten, and the form's entries in the history are left behind, so the phone's Back
   * leaves the page at once instead of stepping through steps that are gone. */
  function forget() {
    finished = true;
    if (position > 0) {
      window.history.go(-position);
      position = 0;
    }
    keptToken = null;
    try {
      sessionStorage.removeItem(SESSION_KEY);
    } catch (error) {
      // nothing to forget
    }
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, name) {
      return String(values[name]);
    });
  }

  function answeredIn(step) {
    let count = 0;
    for (const el of step.querySelectorAll("textarea, input[type=text]:not([name=website]), select")) {
      if (el.value.trim()) {
        count += 1;
      }
    }
    const names = new Set();
    for (const el of step.querySelectorAll("input[type=radio]:checked, input[type=checkbox]:checked")) {
      names.add(el.name);
    }
    for (const el of step.querySelectorAll("input[type=file]")) {
      if (el.files && el.files.length) {
        count += 1;
      }
    }
    return count + names.size;
  }

  /* The required answers missing in a step (intake.js checks them; none if it did not load). */
  function missingIn(step) {
    return window.Refuge && window.Refuge.missingIn ? window.Refuge.missingIn(step) : [];
  }

  /* The answers in a step over their limit (intake.js; none if it did not load). */
  function tooLongIn(step) {
    return window.Refuge && window.Refuge.tooLongIn ? window.Refuge.tooLongIn(step) : [];
  }

  /* The files chosen in a step that the form refuses (too many, too large; intake.js). */
  function refusedFilesIn(step) {
    return window.Refuge && window.Refuge.fileProblemsIn ? window.Refuge.fileProblemsIn(step) : [];
  }

  function needsAttention(step) {
    return missingIn(step).length > 0 || tooLongIn(step).length > 0 ||
      refusedFilesIn(step).length > 0;
  }

  /* Whether an earlier step is ticked as done in the progress line: something answered in it
   * (a skipped step is not done, only passed) and nothing that needs attention. */
  function stepDone(step) {
    return answeredIn(step) > 0 && !needsAttention(step);
  }

  function problemLink(index, problem, text) {
    const link = document.createElement("a");
    link.href = "#" + (problem.anchor ? problem.anchor.id : "");
    link.textContent = text;
    link.addEventListener("click", function (event) {
      event.preventDefault();
      go(index, false);
      if (problem.anchor) {
        problem.anchor.focus();
      }
    });
    return link;
  }

  /* The question a field asks (intake.js; its label's text if that did not load). */
  function questionOf(field) {
    if (window.Refuge && window.Refuge.questionOf) {
      return window.Refuge.questionOf(field);
    }
    const label = field.querySelector("legend, label");
    return label ? label.textContent.trim() : "";
  }

  /* What was answered in a field, as the person would say it: the text typed, the chosen
   * options' labels, the files' names. */
  function answerOf(field) {
    const parts = [];
    for (const el of field.querySelectorAll("textarea, input[type=text]:not([name=website])")) {
      if (el.value.trim()) {
        parts.push(el.value.trim());
      }
    }
    for (const el of field.querySelectorAll("select")) {
      for (const option of el.selectedOptions) {
        if (option.value) {
          parts.push(option.textContent.trim());
        }
      }
    }
    for (const el of field.querySelectorAll("input[type=radio]:checked, input[type=checkbox]:checked")) {
      const label = field.querySelector('label[for="' + el.id + '"]');
      parts.push(label ? label.textContent.trim() : el.value);
    }
    for (const el of field.querySelectorAll("input[type=file]")) {
      for (const file of el.files || []) {
        parts.push(file.name);
      }
    }
    return parts.join(", ");
  }

  /* A step's answers, folded under the review's line for it, to check before sending
   * (folded: someone may be looking over the person's shoulder). Text only, never markup. */
  function answersOf(step) {
    const list = document.createElement("dl");
    for (const field of step.querySelectorAll(".field")) {
      const answer = answerOf(field);
      if (!answer) {
        continue;
      }
      const question = document.createElement("dt");
      question.textContent = questionOf(field);
      const text = document.createElement("dd");
      text.dir = "auto"; // a number typed on an Arabic page reads as it was typed
      // ... also after Arabic words ("محمد: +20 100 123 4567" showed "4567 123 100 20+"): each
      // number run isolated left to right, as the caseworker's page shows it (sealed.js).
      const sealed = window.Refuge && window.Refuge.sealed;
      if (sealed && sealed.showText) {
        sealed.showText(text, answer);
      } else {
        text.textContent = answer;
      }
      list.append(question, text);
    }
    if (!list.childElementCount) {
      return null;
    }
    const fold = document.createElement("details");
    fold.className = "review-answers";
    const summary = document.createElement("summary");
    summary.textContent = data.msgShowAnswers;
    fold.append(summary, list);
    return fold;
  }

  function fillReview() {
    review.replaceChildren();
    const titles = progress.querySelectorAll("[data-step-link]");
    for (let index = 0; index < steps.length - 1; index += 1) {
      const item = document.createElement("li");
      const link = document.createElement("button");
      link.type = "button";
      link.className = "link-button";
      const answered = answeredIn(steps[index]);
      link.textContent = titles[index].textContent + " — " +
        (answered ? format(data.msgAnswered, { count: answered }) : data.msgNotAnswered);
      item.classList.toggle("review-unanswered", !answered);
      link.addEventListener("click", function () {
        go(index);
      });
      item.appendChild(link);
      const answers = answersOf(steps[index]);
      if (answers) {
        item.appendChild(answers);
      }
      // What Send would refuse in this step: each a link to its answer.
      const problems = missingIn(steps[index]).map(function (missing) {
        return problemLink(index, missing, format(data.msgMissing, { question: missing.label }));
      }).concat(tooLongIn(steps[index]).map(function (tooLong) {
        return problemLink(index, tooLong, tooLong.lead + tooLong.message);
      })).concat(refusedFilesIn(steps[index]).map(function (refused) {
        return problemLink(index, refused, refused.message);
      }));
      if (problems.length) {
        item.classList.add("review-missing");
        const list = document.createElement("ul");
        for (const link of problems) {
          const entry = document.createElement("li");
          entry.appendChild(link);
          list.appendChild(entry);
        }
        item.appendChild(list);
      }
      review.appendChild(item);
    }
    review.hidden = false;
  }

  function show(index, focus) {
    if (locked) {
      return; // what is being sent is what was answered: no step to go to and edit meanwhile
    }
    current = Math.max(0, Math.min(index, steps.length - 1));
    if (!finished) {
      keepInSession(); // with the step now shown (STEP_ENTRY)
    }
    steps.forEach(function (step, position) {
      step.hidden = position !== current;
    });
    progressText.textContent = format(data.msgStep, { number: current + 1, total: steps.length });
    for (const item of progress.querySelectorAll("[data-step-link]")) {
      const number = parseInt(item.dataset.stepLink, 10) - 1;
      // A step passed: ticked, or marked as needing attention (what the review flags).
      const attention = number < current && needsAttention(steps[number]);
      item.classList.toggle("step-done", number < current && stepDone(steps[number]));
      item.classList.toggle("step-attention", attention);
      if (number === current) {
        item.setAttribute("aria-current", "step");
      } else {
        item.removeAttribute("aria-current");
      }
    }
    back.hidden = current === 0;
    next.hidden = current === steps.length - 1;
    skip.hidden = current === steps.length - 1 || steps[current].querySelector("[data-required]") !== null;
    if (current === steps.length - 1) {
      fillReview();
    }
    if (focus !== false) {
      const title = steps[current].querySelector(".step-title");
      if (title) {
        title.setAttribute("tabindex", "-1");
        title.focus();
      }
    }
  }

  function entryFor(index) {
    return { refugeStep: index, refugePosition: position };
  }

  /* The person moves to another step: shown, and a new entry in the tab's history. */
  function go(index, focus) {
    const before = current;
    show(index, focus);
    if (current !== before && !locked) {
      position += 1;
      window.history.pushState(entryFor(current), "");
    }
  }

  /* The phone's Back or Forward within the form: the step that entry showed. An entry an error
   * summary's link made (#field) shows the step of that field. */
  window.addEventListener("popstate", function (event) {
    if (finished) {
      return; // the receipt stays on screen
    }
    const entry = event.state;
    if (locked) {
      // Nothing to go to while the request is being sent: this entry shows the step sent from.
      position += 1;
      window.history.pushState(entryFor(current), "");
      return;
    }
    if (entry && typeof entry.refugeStep === "number") {
      position = typeof entry.refugePosition === "number" ? entry.refugePosition : 0;
      show(entry.refugeStep);
      return;
    }
    const target = window.location.hash && document.getElementById(window.location.hash.slice(1));
    show(target && target.closest(".form-step") ? steps.indexOf(target.closest(".form-step")) : 0);
  });

  // An error summary's link (#field) makes an entry of its own: it is one of the form's too.
  window.addEventListener("hashchange", function () {
    const entry = window.history.state;
    if (!finished && !(entry && typeof entry.refugeStep === "number")) {
      position += 1;
      window.history.replaceState(entryFor(current), "");
    }
  });

  /* While a request is being sent, the step navigation (Back, Next, Skip, the review's links)
   * is disabled, so that nobody lands on an earlier step and edits answers that are not sent;
   * unlocked when the send failed. */
  function lock(on) {
    locked = on;
    for (const control of [back, next, skip, ...review.querySelectorAll("button")]) {
      control.disabled = on;
    }
    for (const link of review.querySelectorAll("a")) {
      if (on) {
        link.setAttribute("aria-disabled", "true");
      } else {
        link.removeAttribute("aria-disabled");
      }
    }
  }

  /* Show the step holding this element (an error link's target, say). */
  function showStepOf(element) {
    const step = element && element.closest(".form-step");
    if (step) {
      go(steps.indexOf(step), false);
    }
  }

  // Steps: optional parts are open (the step itself is the fold now), and a tap on the step's
  // title (their summary) does not fold the whole step away, leaving only Back and Next.
  for (const details of form.querySelectorAll("details[data-fold]")) {
    if (details.closest(".form-step") !== steps[1]) {
      details.open = true;
      details.classList.add("fold-fixed");
      const summary = details.querySelector(":scope > summary");
      if (summary) {
        summary.addEventListener("click", function (event) {
          event.preventDefault();
        });
      }
    }
  }
  progress.hidden = false;
  nav.hidden = false;
  back.addEventListener("click", function () {
    go(current - 1);
  });
  skip.addEventListener("click", function () {
    go(current + 1);
  });
  next.addEventListener("click", function () {
    if (window.Refuge && window.Refuge.checkStep && !window.Refuge.checkStep(steps[current])) {
      return;
    }
    go(current + 1);
  });
  document.getElementById("error-summary").addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("a[href^='#']");
    const target = link && document.getElementById(link.getAttribute("href").slice(1));
    const step = target && target.closest(".form-step");
    if (step) {
      show(steps.indexOf(step), false); // the link's own entry in the history follows (hashchange)
    }
  });

  const notice = document.getElementById("restored-notice");
  const restored = restoreFromSession();
  if (restored && notice) {
    notice.hidden = false;
  }
  form.addEventListener("change", function (event) {
    if (filesToAttach && event.target.matches && event.target.matches("input[type=file]")) {
      askForFiles(0); // chosen again
    }
  });
  form.addEventListener("input", keepInSession);
  form.addEventListener("change", keepInSession);
  if (notice) {
    // "Attach them again" leads to the file field's step, as the error summary's links do.
    notice.addEventListener("click", function (event) {
      const link = event.target.closest && event.target.closest("a[href^='#']");
      const target = link && document.getElementById(link.getAttribute("href").slice(1));
      const step = target && target.closest(".form-step");
      if (step) {
        show(steps.indexOf(step), false);
      }
    });
  }

  // Enter in a one-line answer goes on to the next step, as a phone keyboard's "Go" promises;
  // on the last step it does nothing (sending is a deliberate press of Send). Not while an
  // input method is composing (Chinese): there Enter picks the characters. The browser itself
  // submits nothing on Enter (base.html: the page's first submit button is a disabled one).
  const ONE_LINE_ANSWER = "input:not([type]), input[type=text], input[type=email], input[type=tel], input[type=url], input[type=search], input[type=number]";
  form.addEventListener("keydown", function (event) {
    const field = event.target;
    if (event.key !== "Enter" || event.isComposing || event.keyCode === 229) {
      return;
    }
    if (!field.matches || !field.matches(ONE_LINE_ANSWER)) {
      return;
    }
    event.preventDefault();
    if (!next.hidden && !next.disabled) {
      next.click();
    }
  });

  // Without JavaScript the language buttons post the form, to be shown again in that language
  // with what was typed. Here the tab keeps the answers: they are links, and post nothing.
  for (const button of document.querySelectorAll("button[data-language-url]")) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      keepInSession(); // with the step: the same step, in the new language
      window.location.assign(button.dataset.languageUrl);
    });
  }

  // A form the server showed again with errors opens at the first of them; a reload, at the
  // step it was on (its answers are back too).
  const invalid = form.querySelector("[aria-invalid=true]");
  const entry = window.history.state;
  const reloaded = restored && entry && typeof entry.refugeStep === "number";
  if (reloaded && typeof entry.refugePosition === "number") {
    position = entry.refugePosition;
  }
  let opening = 0;
  if (writing) {
    opening = steps.indexOf(writing.closest(".form-step")); // the person is writing there
  } else if (invalid) {
    opening = steps.indexOf(invalid.closest(".form-step"));
  } else if (reloaded) {
    opening = entry.refugeStep;
  } else if (restored && keptStep !== null) {
    opening = keptStep;
  }
  show(opening, false);
  window.history.replaceState(entryFor(current), "");
  if (writing) {
    // The progress line (and a notice) came in above it: the field stays where it was.
    window.scrollBy(0, writing.getBoundingClientRect().top - writingTop);
  }
  if (guard) {
    guard.ready(form, guard.LANGUAGE); // a language press held till now goes, as a link
  }

  window.Refuge = window.Refuge || {};
  window.Refuge.steps = Object.freeze({
    filesToAttach: function () {
      return filesToAttach;
    },
    show: show,
    // The step shown, drawn again: intake.js, which brings the checks the review and the
    // progress line ask (missingIn…), runs after this script and calls it once they exist.
    refresh: function () {
      show(current, false);
    },
    showStepOf: showStepOf,
    forget: forget,
    lock: lock,
    submissionToken: submissionToken,
  });
})();
