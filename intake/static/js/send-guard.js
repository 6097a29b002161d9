/* Refuge: the first script of every page (base.html, in <head>, before anything on the page
 * can be typed in or pressed): window.Refuge.sendGuard.
 *
 * A form that the page's scripts seal before sending (data-sends-sealed: the request, the
 * follow-up on /status) is not posted in the clear because it was sent before they arrived.
 * On a slow link the form can be read, typed in and sent long before libsodium (about 400 KB)
 * and the scripts that seal have arrived: on 2G, Send pressed at 9 s posted the plain form, as
 * without JavaScript, for the server to seal, without a word (a review: the scripts ran at 21 s).
 * So, from the start, a press of Send is held here until the page's script says it sends the
 * form (ready), and the line beside Send (.send-status) says that encryption is being
 * prepared; when it is ready, the press goes on by itself. An answer changed meanwhile lets
 * the held press go (the person then presses Send when done). A language button, which
 * without JavaScript posts the form to show it again in that language, is held the same way
 * (said under the language buttons) until the script that makes it a link runs.
 *
 * When the page's scripts have all run and none took the form (one did not load), or its
 * script says this browser cannot seal (status.js without libsodium), the form posts as
 * without JavaScript, for the server to seal, as it did before: but a press held meanwhile
 * is not sent so: the line beside Send says that our server would encrypt it, and only the
 * next press posts the form. Without JavaScript none of this exists: the forms post as ever.
 *
 * It also notes the last field typed in (lastTyped): steps.js, arriving late, opens on the step
 * the person is writing in.
 */
(function () {
  "use strict";
  const SEND = "send";
  const LANGUAGE = "language";
  const states = new WeakMap(); // form -> what is known of it (stateOf)
  let scriptsRan = false; // every script of the page has run (or failed to load)
  let lastTyped = null;

  function stateOf(form) {
    let state = states.get(form);
    if (!state) {
      // claimed: a script said it sends the form; ready: the kinds of press it handles now;
      // unsealable: nothing on this page seals it; held: the press waiting, if any.
      state = { claimed: false, ready: new Set(), unsealable: false, held: null };
      states.set(form, state);
    }
    return state;
  }

  function kindOf(submitter) {
    return submitter && submitter.hasAttribute("data-language-url") ? LANGUAGE : SEND;
  }

  /* Where a held press is said: beside Send, or under the language buttons (a line made here,
   * a live region, so that it is announced). */
  function lineFor(form, kind) {
    if (kind === SEND) {
      return form.querySelector(".send-status");
    }
    let line = document.getElementById("language-status");
    const languages = document.querySelector("nav.language-switch");
    if (!line && languages) {
      line = document.createElement("p");
      line.id = "language-status";
      line.className = "send-status language-status";
      line.setAttribute("role", "status");
      languages.after(line);
    }
    return line;
  }

  function say(form, kind, message) {
    const line = lineFor(form, kind);
    if (!line) {
      return;
    }
    line.textContent = message || "";
    if (message) {
      line.scrollIntoView({ block: "nearest" }); // Send may be the last thing on a phone screen
    }
  }

  /* The held press again, now that a script handles it (or, unsealable, as without it). */
  function pressAgain(form, held) {
    if (held.submitter && held.submitter.isConnected && !held.submitter.disabled) {
      held.submitter.click();
    } else if (held.kind === SEND) {
      form.requestSubmit();
    }
  }

  /* Nothing of this page seals the form: a held language press goes as without JavaScript; a
   * held Send is not posted in the clear behind the person's back: it says so, and the next
   * press posts the form. */
  function standAside(form, state) {
    state.unsealable = true;
    const held = state.held;
    state.held = null;
    if (!held) {
      return;
    }
    say(form, held.kind, "");
    if (held.kind === LANGUAGE) {
      pressAgain(form, held);
    } else {
      say(form, SEND, form.dataset.msgNotPrepared);
    }
  }

  document.addEventListener(
    "submit",
    function (event) {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-sends-sealed")) {
        return;
      }
      const state = stateOf(form);
      const kind = kindOf(event.submitter);
      if (state.ready.has(kind)) {
        return; // the page's script takes it from here
      }
      if (state.unsealable || (scriptsRan && !state.claimed)) {
        return; // posted as without JavaScript (intake.js asks first where libsodium failed)
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      state.held = { kind: kind, submitter: event.submitter || null };
      say(form, kind, kind === LANGUAGE ? form.dataset.msgLanguageWaits : form.dataset.msgPreparing);
    },
    true,
  );

  document.addEventListener(
    "input",
    function (event) {
      const field = event.target;
      const form = field && field.form;
      if (!form) {
        return;
      }
      lastTyped = field;
      const state = states.get(form);
      if (state && state.held && state.held.kind === SEND) {
        // What would go is not what Send was pressed for: Send is pressed again when done.
        state.held = null;
        say(form, SEND, "");
      }
    },
    true,
  );

  // Deferred scripts have all run (or failed) by now: a form none of them took stands aside.
  document.addEventListener("DOMContentLoaded", function () {
    scriptsRan = true;
    for (const form of document.querySelectorAll("form[data-sends-sealed]")) {
      const state = states.get(form);
      if (state && state.held && !state.claimed) {
        standAside(form, state);
      }
    }
  });

  window.Refuge = window.Refuge || {};
  window.Refuge.sendGuard = Object.freeze({
    SEND: SEND,
    LANGUAGE: LANGUAGE,
    /* The page's script will send form (call it as it starts): presses wait for ready. */
    claim: function (form) {
      stateOf(form).claimed = true;
    },
    /* The page's script now handles this kind of press of form (SEND, LANGUAGE): a press held
     * meanwhile goes on, and so does every later one. */
    ready: function (form, kind) {
      const state = stateOf(form);
      state.claimed = true;
      state.ready.add(kind);
      const held = state.held;
      if (held && held.kind === kind) {
        state.held = null;
        say(form, kind, "");
        pressAgain(form, held);
      }
    },
    /* This browser cannot seal form (libsodium did not load): its script stands aside. */
    cannotSeal: function (form) {
      const state = stateOf(form);
      state.claimed = true;
      standAside(form, state);
    },
    /* The field typed in last on this page, if any (before steps.js ran, say). */
    lastTyped: function () {
      return lastTyped;
    },
  });
})();
