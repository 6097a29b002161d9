/* Refuge: how long an answer may be, said before it is too long (window.Refuge.answerLength).
 *
 * The public forms' free-text fields carry their limit (data-max-chars, the server form's
 * AnswerLength) and no maxlength: a browser cuts what is typed or pasted past maxlength
 * without a word, and a defender must never lose what they wrote. Here a counter under the
 * field appears from 90% of the limit; when the answer is over, the counter goes and the
 * field's error line (data-error-for, where the server and intake.js say it too) says the
 * server's own message, with the count (tooLongIn): a red counter under the box and that
 * error above it said the same thing twice (a review). Screen readers hear it politely, once
 * typing pauses. intake.js (the request) and status.js (a follow-up) refuse to send while an
 * answer is over, and take the error back once it is short enough (this script does, where
 * they did not load). Each form says its words in data-msg-count and -too-long; a long answer
 * says after "too long" where the rest can go (data-too-long-then, its field).
 *
 * A staff text box's form (no data-msg-too-long) refuses an answer over its limit by its
 * counter alone (insist): one line says what is wrong and how much to cut, in the form's
 * data-msg-count-over (which may say by how much: {over}). The box's refusal line
 * (data-refusal-for, the box's id: what the last Save was refused for) is emptied while the
 * answer is over; two red lines, one under the other, said it twice (a review).
 *
 * Characters are counted as the server counts them: Unicode code points, a line break one
 * (a browser posts it as CRLF; the server reads that as one LF, and the sealed answer holds
 * the textarea's LF). So 8000 means the same with JavaScript and without.
 */
(function () {
  "use strict";
  const forms = Array.from(document.querySelectorAll("form[data-msg-count]"));
  if (!forms.length) {
    return;
  }
  const SHOW_FROM = 0.9; // of the limit: the counter appears
  const SAY_AFTER_MS = 1200; // after the last key: the count is said, not every keystroke

  function count(text) {
    return Array.from(text.replace(/\r\n?/g, "\n")).length;
  }

  function format(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (match, name) {
      return String(values[name]);
    });
  }

  /* What the server says of el's answer when it is over its limit (with its count), or "". */
  function tooLongMessage(el) {
    const max = parseInt(el.dataset.maxChars, 10);
    const length = count(el.value || "");
    if (!(length > max)) {
      return "";
    }
    const words = el.form ? el.form.dataset : {};
    // An account (a long answer) says after it where the rest can go, as the server does.
    const said = [format(words.msgTooLong, { max: max, count: length }), el.dataset.tooLongThen];
    return said.filter(Boolean).join(document.documentElement.dataset.sentenceGap ?? " ");
  }

  /* The fields in root (root itself included) whose answer is over their limit, as intake.js
   * lists errors: {name, message}, the message the server gives for it. */
  function tooLongIn(root) {
    const errors = [];
    const fields = Array.from(root.querySelectorAll("[data-max-chars]"));
    if (root.matches && root.matches("[data-max-chars]")) {
      fields.unshift(root);
    }
    for (const el of fields) {
      const message = tooLongMessage(el);
      if (message) {
        errors.push({ name: el.name, message: message });
      }
    }
    return errors;
  }

  function describedBy(el, id, on) {
    const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (each) {
      return each && each !== id;
    });
    if (on) {
      ids.push(id);
    }
    if (ids.length) {
      el.setAttribute("aria-describedby", ids.join(" "));
    } else {
      el.removeAttribute("aria-describedby");
    }
  }

  const updates = new Map(); // each bound field's update(announce, now)

  function bind(form, el) {
    const data = form.dataset;
    const max = parseInt(el.dataset.maxChars, 10);
    const field = el.closest(".field");
    const errorLine = form.querySelector('[data-error-for="' + el.name + '"]');
    // Over the limit, the field's error line says it (the public forms), not a red counter.
    const saysInErrorLine = Boolean(errorLine && data.msgTooLong);
    let written = ""; // what this script last wrote in the error line
    const refusal = el.id ? form.querySelector('[data-refusal-for="' + CSS.escape(el.id) + '"]') : null;
    const counter = document.createElement("p");
    counter.className = "char-count";
    counter.id = el.id + "-count";
    counter.hidden = true;
    // Said apart from the counter, which changes with every key: a polite region updated once
    // typing pauses, so that a screen reader is not interrupted character by character.
    const said = document.createElement("p");
    said.className = "visually-hidden";
    said.id = el.id + "-count-said";
    said.setAttribute("aria-live", "polite");
    el.after(counter, said);
    let timer = null;

    /* The error line says the answer is too long (message), or no longer (""): only what
     * this script wrote is taken back; an error intake.js or the server shows is theirs. */
    function sayInErrorLine(message) {
      if (message) {
        errorLine.textContent = message;
        errorLine.hidden = false;
        describedBy(el, errorLine.id, true);
      } else if (written && !errorLine.hidden && errorLine.textContent === written) {
        errorLine.textContent = "";
        errorLine.hidden = true;
      }
      written = message;
    }

    function update(announce, now) {
      const length = count(el.value);
      const over = length > max;
      const near = length >= Math.ceil(max * SHOW_FROM) && !(over && saysInErrorLine);
      counter.hidden = !near;
      const values = { count: length, max: max, over: length - max };
      counter.textContent = near ? format(over ? data.msgCountOver : data.msgCount, values) : "";
      counter.classList.toggle("char-count-over", over && near);
      describedBy(el, counter.id, near);
      if (saysInErrorLine) {
        sayInErrorLine(over ? tooLongMessage(el) : "");
      }
      if (over && refusal) {
        // Emptied too: a hidden line the box is still described by would be read out.
        refusal.textContent = "";
        refusal.hidden = true;
      }
      // Over the limit is an error beside the field; back within it, what intake.js shows
      // (an error it checked, in the field's error line) is for intake.js to take back.
      const checked = errorLine && !errorLine.hidden;
      if (over) {
        el.setAttribute("aria-invalid", "true");
      } else if (!checked) {
        el.removeAttribute("aria-invalid");
      }
      if (field) {
        field.classList.toggle("field-invalid", over || Boolean(checked));
      }
      if (announce) {
        clearTimeout(timer);
        if (now) {
          said.textContent = ""; // said again even when it says what it said last
        }
        const saying = near ? counter.textContent : written;
        timer = setTimeout(
          function () {
            said.textContent = saying;
          },
          now ? 0 : SAY_AFTER_MS,
        );
      }
      return over;
    }

    // Where the error line says it: heard on the form, after the page's own check (intake.js,
    // status.js, bound before this) has seen the input and taken back the error it showed,
    // from the summary too, once the answer is short enough.
    (saysInErrorLine ? form : el).addEventListener("input", function (event) {
      if (event.target === el) {
        update(true);
      }
    });
    update(false); // what the server showed again, or what steps.js and intake.js brought back
    updates.set(el, update);
  }

  let bound = false;
  function bindAll() {
    if (bound) {
      return;
    }
    bound = true;
    forms.forEach(function (form) {
      form.querySelectorAll("[data-max-chars]").forEach(function (el) {
        bind(form, el);
      });
    });
  }

  /* The counters drawn again: intake.js cleared every error before checking a step. */
  function refresh() {
    updates.forEach(function (update) {
      update(false);
    });
  }

  /* An answer over its limit, refused when its form is sent: its counter, which says by how
   * much, is drawn and said at once (not after typing pauses). True when el is over. */
  function insist(el) {
    const update = updates.get(el);
    if (!update || count(el.value) <= parseInt(el.dataset.maxChars, 10)) {
      return false;
    }
    return update(true, true);
  }

  window.Refuge = window.Refuge || {};
  window.Refuge.answerLength = Object.freeze({
    count: count,
    tooLongIn: tooLongIn,
    refresh: refresh,
    insist: insist,
    bind: bindAll,
  });
  // After the other scripts of the page have put back what this tab kept (steps.js, intake.js)
  // and added their own listeners: they call bind() when done (libsodium, loaded after them,
  // holds DOMContentLoaded back by seconds on a slow link), else it is done then.
  if (document.readyState === "loading" || document.currentScript?.defer) {
    document.addEventListener("DOMContentLoaded", bindAll);
  } else {
    bindAll();
  }
})();
