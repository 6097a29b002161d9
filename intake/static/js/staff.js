/* Refuge: what every staff page's script needs (window.Refuge.staff).
 *
 * - where this tab keeps its (encrypted) keyring, for keyring.js and the sign-in page;
 * - the keyring (window.RefugeKeyring, from keyring.js) and the organisation key pairs it opens;
 * - the notice a page shows about its keys, in the page's own words;
 * - posting a form of ciphertext so that an expired CSRF token loses nothing.
 * Loaded before keyring.js and the page's own script (templates/auth/_sodium.html; the sign-in
 * page loads it alone). Needs no libsodium.
 */
(function () {
  "use strict";

  /* sessionStorage keys. "retired" held raw keys in an older version: it must not stay on disk.
   * "searchWords": the queue's last search, to refill its box; the words may name a person. */
  const STORAGE = Object.freeze({
    keyring: "refuge.keyring.v2",
    activity: "refuge.keyring.activity",
    retired: "refuge.keyring.v1",
    searchWords: "refuge.queue.search",
    // Followed by a settings form's name: what was typed in it while another form was sent.
    unsaved: "refuge.unsaved:",
    // The page a note was just saved on, to open it at the note (reloadAtSavedPlace).
    savedPlace: "refuge.saved-place",
  });

  /* On locking (by hand or idle) and signing out: the keyring, and what was read with it. */
  function forgetStoredKeyring() {
    forgetUnsaved(); // another person may use this tab next
    window.sessionStorage.removeItem(STORAGE.retired);
    window.sessionStorage.removeItem(STORAGE.keyring);
    window.sessionStorage.removeItem(STORAGE.activity);
    window.sessionStorage.removeItem(STORAGE.searchWords);
  }

  /* Looked up on every call: a test (or a later script) may provide its own. */
  function keyring() {
    return window.RefugeKeyring || null;
  }

  /* The organisation key pair with this id, or null while locked or not granted. */
  async function orgKeyPair(orgKeyId) {
    const ring = keyring();
    if (!ring || !ring.isUnlocked()) {
      return null;
    }
    try {
      return await ring.orgKeyPair(Number(orgKeyId));
    } catch (e) {
      return null;
    }
  }

  /* setNotice(key, state): the page's text[key] in the notice node, its state for the styles. */
  function noticeSetter(node, text) {
    return function setNotice(key, state) {
      node.textContent = text[key];
      node.setAttribute("data-state", state);
    };
  }

  /* GET JSON of this session (no cache); throws unless the server answered with JSON. */
  async function fetchJson(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok || response.redirected || type.indexOf("application/json") === -1) {
      throw new Error(url + " " + response.status);
    }
    return response.json();
  }

  /* A fresh CSRF token from this page's URL (the old one expired while they were writing).
   * None when the page now leads to the sign-in page: its token would pass, and the post then
   * be answered by a redirect to sign in, which looked like "saved". */
  async function freshCsrfToken() {
    const response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok || response.redirected) {
      return null;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const input = page.querySelector("input[name=csrf_token]");
    return input ? input.value : null;
  }

  function postForm(form) {
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      redirect: "manual",
      headers: { Accept: "application/json" },
    });
  }

  function accepted(response) {
    return response.type === "opaqueredirect" || (response.status >= 200 && response.status < 300);
  }

  /* Post a form (of ciphertext only). null when the server took it (it answers with a redirect),
   * else the message to show beside the text: the server's, or notSaved. A 400 is most likely an
   * expired CSRF token: fetch a new one and send the same ciphertext once more. */
  async function postWithFreshCsrf(form, notSaved) {
    let response = await postForm(form);
    if (!accepted(response) && response.status === 400) {
      const token = await freshCsrfToken();
      if (token) {
        document.querySelectorAll("input[name=csrf_token]").forEach(function (input) {
          input.value = token;
        });
        response = await postForm(form);
      }
    }
    if (accepted(response)) {
      return null;
    }
    try {
      const answer = await response.json();
      return answer && answer.error ? String(answer.error) : notSaved;
    } catch (e) {
      return notSaved;
    }
  }

  /* POST fields (and this page's CSRF token) to url; resolves with the JSON answer, rejects
   * with an Error whose .status is the HTTP status (0: no answer) and .answer the JSON, if any. */
  async function postFields(url, fields) {
    const body = new FormData();
    const token = document.querySelector("input[name=csrf_token]");
    if (token) {
      body.append("csrf_token", token.value);
    }
    Object.keys(fields).forEach(function (name) {
      body.append(name, fields[name]);
    });
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
    } catch (e) {
      const error = new Error("network");
      error.status = 0;
      throw error;
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (e) {
      answer = null;
    }
    if (!response.ok || answer === null) {
      const error = new Error(url + " " + response.status);
      error.status = response.status;
      error.answer = answer;
      throw error;
    }
    return answer;
  }

  /* Resolves once the page had time to paint a status line, before Argon2id takes the thread. */
  function afterPaint() {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, 30);
    });
  }

  function setField(form, name, value) {
    const input = form.querySelector("input[name='" + name + "']");
    if (input) {
      input.value = value;
    }
  }

  /* "safe_contact_notes" -> "Safe contact notes": a label for a key no wording exists for. */
  function humanise(key) {
    const words = String(key).replace(/[_-]+/g, " ").trim();
    return words ? words.charAt(0).toUpperCase() + words.slice(1) : String(key);
  }

  /* Whether a text box is over its limit (answer-length.js counts as the server would); if
   * so it is refused by its counter alone, which says by how much, said at once, and the box
   * takes the focus. One message: a refusal in the form's error line as well put two red
   * lines under the box saying the same (a review). The box has no maxlength: a browser cuts
   * a paste past it without a word. */
  function refusedTooLong(field) {
    const length = window.Refuge.answerLength;
    if (!length || !length.insist(field)) {
      return false;
    }
    field.focus();
    return true;
  }

  /* A refusal said in a form's error line, and the ``field`` it is about (if given) marked
   * invalid and described by it, as the server marks its own. The page's earlier "saved"
   * message goes: left up, it read as if this had been saved too. */
  function refuse(errorLine, message, field) {
    errorLine.textContent = message;
    errorLine.hidden = false;
    if (field) {
      errorLine.id = errorLine.id || field.id + "-error";
      const described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (described.indexOf(errorLine.id) < 0) {
        field.setAttribute("aria-describedby", described.concat(errorLine.id).join(" "));
      }
      field.setAttribute("aria-invalid", "true");
    }
    document.querySelectorAll(".flashes .flash-success").forEach(function (flash) {
      flash.hidden = true;
    });
  }

  /* A form that must not be sent twice (data-send-once): a second press while the first post
   * is on its way does nothing. A double click on "Create account and show link" had the
   * second post refused, and the first one's link was lost with its answer. Listening on the
   * document, this runs after the form's own handlers: a post they stopped may be sent again. */
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-send-once")) {
      return;
    }
    if (form.getAttribute("data-sending") === "yes") {
      event.preventDefault();
    } else if (!event.defaultPrevented) {
      form.setAttribute("data-sending", "yes");
    }
  });
  /* A page that opens with a message after an action (base.html's flashes) gives it the focus:
   * a screen reader says it (a status already there at load is not announced), and the
   * keyboard goes on from it rather than from the header, 19 stops back to "Assign to me" (a
   * review). Not when the page placed the focus itself or was opened at a place (#…) other
   * than the message's own (#main, where some actions send the browser back). */
  /* A page of several forms, each with its own Save (Organisation settings): saving one
   * reloaded the page and emptied what had been typed in the others, without a word (a
   * review). A form marked data-keeps-unsaved keeps its changed fields in this tab while
   * another form of the page is sent, gets them back on the page that answers, and says
   * they are not saved yet (its data-unsaved-text). Only for forms of settings, never for
   * anything about a case: what is kept stays in sessionStorage until that page opens. */
  /* Named by the form (data-keeps-unsaved="timezone"), not by the address: a refused post is
   * answered at another one (/admin/settings/profile), where the same forms are. */
  function unsavedKey(form) {
    return STORAGE.unsaved + form.getAttribute("data-keeps-unsaved");
  }

  /* What differs from what the page was served with; all of it when the server sent the form
   * back refused (data-holds-unsaved): then what it shows was typed, never saved. */
  function changedFields(form) {
    const everything = form.hasAttribute("data-holds-unsaved");
    const changed = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.type === "hidden" || field.disabled) {
        return;
      }
      if (field.tagName === "SELECT") {
        const chosen = field.options[field.selectedIndex];
        if (chosen && (everything || !chosen.defaultSelected)) {
          changed[field.name] = field.value;
        }
      } else if (field.type === "checkbox" || field.type === "radio") {
        if (everything || field.checked !== field.defaultChecked) {
          changed[field.name + "\u0000" + field.value] = field.checked;
        }
      } else if ("defaultValue" in field && (everything || field.value !== field.defaultValue)) {
        changed[field.name] = field.value;
      }
    });
    return changed;
  }

  function forgetUnsaved() {
    Object.keys(window.sessionStorage).forEach(function (key) {
      if (key.indexOf(STORAGE.unsaved) === 0) {
        window.sessionStorage.removeItem(key);
      }
    });
  }

  // Only when one of these forms is sent: signing out, or leaving by any other form, keeps
  // nothing for whoever uses this tab next.
  document.addEventListener("submit", function (event) {
    const sent = event.target;
    if (event.defaultPrevented || !(sent instanceof HTMLFormElement)) {
      return;
    }
    if (!sent.hasAttribute("data-keeps-unsaved")) {
      forgetUnsaved();
      return;
    }
    document.querySelectorAll("form[data-keeps-unsaved]").forEach(function (form) {
      const changed = form === sent ? {} : changedFields(form);
      if (Object.keys(changed).length) {
        window.sessionStorage.setItem(unsavedKey(form), JSON.stringify(changed));
      } else {
        window.sessionStorage.removeItem(unsavedKey(form));
      }
    });
  });

  function restoreUnsaved(form) {
    const key = unsavedKey(form);
    let changed = null;
    try {
      changed = JSON.parse(window.sessionStorage.getItem(key) || "null");
    } catch (e) {
      changed = null;
    }
    window.sessionStorage.removeItem(key);
    if (!changed || typeof changed !== "object") {
      return;
    }
    let restored = 0;
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.type === "hidden") {
        return;
      }
      if (field.type === "checkbox" || field.type === "radio") {
        const mark = field.name + "\u0000" + field.value;
        if (Object.prototype.hasOwnProperty.call(changed, mark)) {
          field.checked = changed[mark] === true;
          restored += 1;
        }
      } else if (Object.prototype.hasOwnProperty.call(changed, field.name)) {
        field.value = String(changed[field.name]);
        restored += 1;
        const fold = field.closest("details");
        if (fold && field.value) {
          fold.open = true;
        }
      }
    });
    if (restored && form.dataset.unsavedText) {
      const note = document.createElement("p");
      note.className = "notice";
      note.setAttribute("role", "status");
      note.setAttribute("data-unsaved-notice", "");
      note.textContent = form.dataset.unsavedText;
      form.prepend(note);
    }
  }

  /* A note or reply saved with fetch opens the page again at the place it keeps under what
   * was saved ([data-saved-place]: the conversation's end, the referral's note), with its
   * "saved" message moved there. Opened at the top, a long case page on a phone left the note
   * and its message out of sight, a screen away from where they were writing. (Not a #place:
   * going from a page to its own #place is not a reload.) */
  const HOLD_SAVED_PLACE_MS = 5000;

  function reloadAtSavedPlace() {
    window.sessionStorage.setItem(STORAGE.savedPlace, window.location.pathname);
    window.location.assign(window.location.pathname);
  }

  function flashAtSavedPlace() {
    const savedAt = window.sessionStorage.getItem(STORAGE.savedPlace);
    window.sessionStorage.removeItem(STORAGE.savedPlace);
    const place = document.querySelector("[data-saved-place]");
    const flashes = document.querySelector("main > .flashes");
    if (savedAt !== window.location.pathname || !place || !flashes) {
      return;
    }
    place.append(flashes);
    flashes.tabIndex = -1;
    flashes.focus({ preventScroll: true });
    holdInView(place);
  }

  /* Scrolled to (its scroll-margin keeps what was saved in sight above it), and again while
   * decrypting grows the page above it, until they scroll, touch or type. The browser's own
   * scroll anchoring let the case page slide back up to the request. */
  function holdInView(place) {
    const userMoves = ["wheel", "touchstart", "keydown", "pointerdown"];
    const follow = new ResizeObserver(function () {
      place.scrollIntoView();
    });
    function stop() {
      follow.disconnect();
      userMoves.forEach(function (name) {
        window.removeEventListener(name, stop, true);
      });
    }
    userMoves.forEach(function (name) {
      window.addEventListener(name, stop, { capture: true, passive: true });
    });
    follow.observe(document.body);
    window.setTimeout(stop, HOLD_SAVED_PLACE_MS);
  }

  // This script runs in the header, before the page's forms are parsed.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-keeps-unsaved]").forEach(restoreUnsaved);
    flashAtSavedPlace();
  });

  /* What a page marks data-focus-on-load (a refused UN step's error, a search's count) takes
   * the focus even when the page was opened at a place: autofocus is not applied then. */
  window.addEventListener("load", function () {
    const marked = document.querySelector("[data-focus-on-load]");
    if (marked && document.activeElement === document.body) {
      marked.tabIndex = -1;
      marked.focus();
      return;
    }
    const flashes = document.querySelector("main > .flashes");
    const place = window.location.hash;
    if (!flashes || (place && place !== "#main") || document.activeElement !== document.body) {
      return;
    }
    flashes.tabIndex = -1;
    flashes.focus();
  });
  /* Typing is activity the server does not see: a colleague writing a long note for half an
   * hour was signed out by the idle time-out (SESSION_IDLE_MINUTES) before pressing Save. While
   * someone types, the server hears of it at most every few minutes (#lock-state names where). */
  const ALIVE_EVERY_MS = 4 * 60 * 1000;
  let aliveSaid = Date.now();
  document.addEventListener(
    "input",
    function () {
      const lockState = document.getElementById("lock-state");
      const url = lockState ? lockState.dataset.aliveUrl : "";
      if (!url || Date.now() - aliveSaid < ALIVE_EVERY_MS) {
        return;
      }
      aliveSaid = Date.now();
      fetch(url, { credentials: "same-origin", cache: "no-store" }).catch(function () {
        // Offline: the next keystrokes try again; Save says whether it was kept.
        aliveSaid = 0;
      });
    },
    true,
  );

  // A list the server refused ("This field is required."), chosen since: its error is taken
  // back, as the public forms take back theirs (a walkthrough: the error stayed beside the
  // organisation once it was chosen). A list only: typed text may be checked as it is typed
  // by the page's own script, which says its own errors.
  document.addEventListener("change", function (event) {
    const list = event.target;
    if (!(list instanceof HTMLSelectElement) || list.getAttribute("aria-invalid") !== "true" || !list.value) {
      return;
    }
    const errorId = list.id + "-error";
    const error = document.getElementById(errorId);
    if (!error || !error.classList.contains("field-error")) {
      return;
    }
    error.hidden = true;
    list.removeAttribute("aria-invalid");
    const described = (list.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
      return id && id !== errorId;
    });
    if (described.length) {
      list.setAttribute("aria-describedby", described.join(" "));
    } else {
      list.removeAttribute("aria-describedby");
    }
  });

  // Back to the page from the browser's cache: the form may be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      form.removeAttribute("data-sending");
    });
  });

  window.Refuge = window.Refuge || {};
  window.Refuge.staff = Object.freeze({
    STORAGE: STORAGE,
    forgetStoredKeyring: forgetStoredKeyring,
    keyring: keyring,
    orgKeyPair: orgKeyPair,
    noticeSetter: noticeSetter,
    fetchJson: fetchJson,
    postWithFreshCsrf: postWithFreshCsrf,
    reloadAtSavedPlace: reloadAtSavedPlace,
    postFields: postFields,
    afterPaint: afterPaint,
    setField: setField,
    humanise: humanise,
    refusedTooLong: refusedTooLong,
    refuse: refuse,
  });
})();
