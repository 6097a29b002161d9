/*
 * Refuge case page: decrypts a case in the caseworker's browser and seals notes and replies.
 *
 * The server sends only ciphertext. The organisation key pair comes from window.RefugeKeyring
 * (keyring.js, unlocked from the caseworker's password); nothing decrypted is ever sent back.
 * Decrypted text goes into the page with textContent only, never as HTML.
 *
 * The formats (padded JSON for answers and messages, the file envelope for attachments) are
 * read and written by sealed.js; the keyring, notices and posting by staff.js.
 */
(function () {
  "use strict";

  const root = document.getElementById("case-view");
  if (!root) {
    return;
  }
  const sealed = window.Refuge.sealed;
  const staff = window.Refuge.staff;
  const text = JSON.parse(document.getElementById("case-view-text").textContent);
  const questions = JSON.parse(document.getElementById("case-view-answers").textContent);
  const answersBox = document.getElementById("answers");
  const setNotice = staff.noticeSetter(document.getElementById("case-lock"), text);
  const humanise = staff.humanise;
  let blobUrls = [];
  let generation = 0;

  const LONG_MESSAGE = 1200; // characters: a longer message is shown folded to its start

  function el(tag, className, content) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (content !== undefined && content !== null) {
      node.textContent = String(content);
    }
    return node;
  }

  /*
   * What someone wrote (an answer, a message): it takes its own direction from its first strong
   * character (an Arabic request reads right to left in the English page), and refuge.css
   * isolates it, so a bidi override inside cannot reorder the page around it.
   */
  function written(tag, className, content) {
    const node = el(tag, className);
    if (content !== undefined && content !== null) {
      window.Refuge.sealed.showText(node, content); // phone numbers as written, in any script
    }
    node.setAttribute("dir", "auto");
    return node;
  }

  /* Render any JSON value as DOM, recursively, with textContent only. */
  function renderValue(value) {
    if (value === null || value === undefined || value === "") {
      return el("span", "empty-value", text.empty);
    }
    if (typeof value === "boolean") {
      return el("span", null, value ? text.yes : text.no);
    }
    if (typeof value !== "object") {
      return written("span", "answer-text", value);
    }
    if (Array.isArray(value)) {
      if (!value.length) {
        return el("span", "empty-value", text.empty);
      }
      const list = el("ul", "answer-list");
      value.forEach(function (item) {
        const li = el("li");
        li.appendChild(renderValue(item));
        list.appendChild(li);
      });
      return list;
    }
    const dl = el("dl", "answer-fields");
    Object.keys(value).forEach(function (key) {
      const row = el("div", "answer-row");
      row.setAttribute("data-answer-key", key);
      row.appendChild(el("dt", null, humanise(key)));
      const dd = el("dd");
      dd.appendChild(renderValue(value[key]));
      row.appendChild(dd);
      dl.appendChild(row);
    });
    return dl;
  }

  /* Nothing in it: what the form sends for a question left blank. */
  function isUnanswered(value) {
    if (value === null || value === undefined) {
      return true;
    }
    if (typeof value === "string") {
      return !value.trim();
    }
    if (Array.isArray(value)) {
      return !value.length;
    }
    return typeof value === "object" && !Object.keys(value).length;
  }

  function labelOf(key) {
    return Object.prototype.hasOwnProperty.call(questions.labels, key)
      ? questions.labels[key]
      : humanise(key);
  }

  /*
   * The top level of the answers, labelled as the form asked them. Answered questions come
   * first (what happened and why it is urgent before the rest, which keep the form's order);
   * the unanswered ones fold into one line that opens to list them, so a short request is not
   * lost among rows of "(not answered)".
   */
  function renderAnswers(answers) {
    if (!answers || typeof answers !== "object" || Array.isArray(answers)) {
      return renderValue(answers);
    }
    const has = function (key) {
      return Object.prototype.hasOwnProperty.call(answers, key);
    };
    const keys = [];
    questions.first.concat(questions.order).forEach(function (key) {
      if (has(key) && keys.indexOf(key) < 0) {
        keys.push(key);
      }
    });
    Object.keys(answers).forEach(function (key) {
      if (keys.indexOf(key) < 0) {
        keys.push(key);
      }
    });
    const answered = keys.filter(function (key) {
      return !isUnanswered(answers[key]);
    });
    const unanswered = keys
      .filter(function (key) {
        return isUnanswered(answers[key]);
      })
      .sort(function (a, b) {
        // In the form's order, the priority questions too, when a caseworker opens the list.
        const ia = questions.order.indexOf(a);
        const ib = questions.order.indexOf(b);
        return (ia < 0 ? Infinity : ia) - (ib < 0 ? Infinity : ib);
      });
    // Direct children of #answers: the answered list, then the fold.
    const box = document.createDocumentFragment();
    const dl = el("dl", "answer-fields");
    answered.forEach(function (key) {
      let value = answers[key];
      const options = questions.choices[key];
      if (options && typeof value === "string" && Object.prototype.hasOwnProperty.call(options, value)) {
        value = options[value];
      }
      const row = el("div", "answer-row");
      row.setAttribute("data-answer-key", key);
      row.appendChild(el("dt", null, labelOf(key)));
      const dd = el("dd");
      dd.appendChild(renderValue(value));
      row.appendChild(dd);
      dl.appendChild(row);
    });
    if (answered.length) {
      box.appendChild(dl);
    } else {
      box.appendChild(el("p", "empty-state", text.nothing_answered));
    }
    if (unanswered.length) {
      const fold = el("details", "unanswered");
      fold.setAttribute("data-unanswered", String(unanswered.length));
      const count = unanswered.length === 1
        ? text.not_answered_one
        : text.not_answered_many.replace("{n}", String(unanswered.length));
      fold.appendChild(el("summary", null, count));
      const list = el("ul", "unanswered-list");
      unanswered.forEach(function (key) {
        const item = el("li", null, labelOf(key));
        item.setAttribute("data-answer-key", key);
        list.appendChild(item);
      });
      fold.appendChild(list);
      box.appendChild(fold);
    }
    return box;
  }

  /*
   * Hook for the encrypted search (search.js, merged separately): once this browser has opened
   * the case, listeners get the reference and the decrypted answers, e.g. to compute keyed
   * search tokens with window.Refuge.search.indexCase(ref, answers). The answers stay in this
   * page; nothing here sends them anywhere.
   */
  function announceOpened(answers) {
    document.dispatchEvent(
      new CustomEvent("refuge:case-opened", {
        detail: { ref: root.getAttribute("data-ref"), answers: answers },
      }),
    );
  }

  /*
   * The server says when the case's search tokens are missing or outdated (a follow-up or a
   * note came since they were made): this key holder's browser makes them again, from the
   * answers and the searchable messages, and posts the keyed tokens only (search.js).
   */
  async function indexIfStale(answers, bundle) {
    const search = window.Refuge.search;
    if (!search || root.getAttribute("data-search-stale") !== "1") {
      return;
    }
    const found = await search.messageTexts(bundle);
    const done = await search.indexCase(root.getAttribute("data-ref"), answers, {
      url: root.getAttribute("data-tokens-url"),
      texts: found.texts,
      through: found.through,
    });
    if (done) {
      root.setAttribute("data-search-stale", "0");
    }
  }

  function placeholder() {
    return el("p", "placeholder", text.locked);
  }

  function clearDecrypted() {
    generation += 1;
    answersBox.replaceChildren(placeholder());
    document.querySelectorAll(".message[data-message-id]").forEach(function (item) {
      item.querySelector(".message-body").replaceChildren(placeholder());
    });
    document.querySelectorAll("[data-attachment-id]").forEach(function (row) {
      row.querySelectorAll(".attachment-download, .error-message").forEach(function (node) {
        node.remove();
      });
      const name = row.querySelector(".attachment-name");
      if (name.hasAttribute("data-placeholder")) {
        name.textContent = name.getAttribute("data-placeholder");
      }
    });
    blobUrls.forEach(function (url) {
      URL.revokeObjectURL(url);
    });
    blobUrls = [];
  }

  /* A message opens to {"body": text}; a copy of a reply to the submitter says so. */
  function renderMessage(item, value) {
    const container = el("div");
    // A reply is shown once, through its copy: the item already says it is a reply.
    if (value && value.copy_of_reply && item.getAttribute("data-kind") !== "reply") {
      container.appendChild(el("p", "hint", text.copy_of_reply));
    }
    if (value && typeof value.body === "string" && value.body.length > LONG_MESSAGE) {
      // Folded to its start, with a button to read it all: two long notes made the page
      // 30,000 px tall on a phone, the reply box at the very end.
      const body = written("p", "message-text message-folded", value.body);
      body.id = "message-text-" + item.getAttribute("data-message-id");
      const toggle = el("button", "link-button message-toggle", text.show_all);
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-controls", body.id);
      toggle.addEventListener("click", function () {
        const folded = body.classList.toggle("message-folded");
        toggle.textContent = folded ? text.show_all : text.show_less;
        toggle.setAttribute("aria-expanded", String(!folded));
      });
      container.append(body, toggle);
    } else if (value && typeof value.body === "string" && !value.body.trim()) {
      container.appendChild(el("p", "hint", text.files_only)); // a follow-up of files alone
    } else if (value && typeof value.body === "string") {
      container.appendChild(written("p", "message-text", value.body));
    } else {
      container.appendChild(renderValue(value));
    }
    item.querySelector(".message-body").replaceChildren(container);
  }

  async function showAttachment(item, url, pair, mine) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) {
      throw new Error("attachment " + response.status);
    }
    const file = sealed.openFile(new Uint8Array(await response.arrayBuffer()), pair);
    if (mine !== generation) {
      return;
    }
    // Always a download, never displayed: a decrypted file must not run in our origin.
    const blob = new Blob([file.bytes], { type: "application/octet-stream" });
    const href = URL.createObjectURL(blob);
    blobUrls.push(href);
    // Slashes, control characters and the bidirectional controls become "_": a name such as
    // "photo\u202Egpj.exe" would show, and download, as "photoexe.jpg".
    // eslint-disable-next-line no-control-regex -- control characters are what it replaces
    const BIDI_AND_CONTROLS = /[\\/\u0000-\u001f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
    const safeName = (file.name || text.file).replace(BIDI_AND_CONTROLS, "_").slice(0, 200) || text.file;
    item.querySelectorAll(".attachment-download, .error-message").forEach(function (node) {
      node.remove();
    });
    const label = item.querySelector(".attachment-name");
    if (!label.hasAttribute("data-placeholder")) {
      label.setAttribute("data-placeholder", label.textContent);
    }
    label.textContent = safeName;
    const link = el("a", "attachment-download button secondary", text.download);
    link.href = href;
    link.download = safeName;
    link.setAttribute("data-size", String(file.bytes.length));
    if (file.type) {
      link.setAttribute("data-type", file.type.slice(0, 100));
    }
    item.appendChild(document.createTextNode(" "));
    item.appendChild(link);
  }

  async function decryptAll() {
    const ring = staff.keyring();
    if (!ring) {
      setNotice("no_keyring", "locked");
      return;
    }
    if (!ring.isUnlocked()) {
      clearDecrypted();
      setNotice("locked", "locked");
      return;
    }
    const mine = ++generation;
    setNotice("decrypting", "busy");
    let bundle;
    try {
      bundle = await staff.fetchJson(root.getAttribute("data-sealed-url"));
    } catch (e) {
      setNotice("fetch_failed", "error");
      return;
    }
    const pair = await staff.orgKeyPair(bundle.org_key_id);
    if (mine !== generation) {
      return;
    }
    let problems = 0;
    let answers = null;
    if (!pair) {
      setNotice("no_key", "error");
      problems += 1;
    } else {
      try {
        answers = sealed.openJson(bundle.sealed_answers, pair);
        answersBox.replaceChildren(renderAnswers(answers));
        announceOpened(answers);
      } catch (e) {
        answers = null;
        answersBox.replaceChildren(el("p", "error-message", text.failed));
        problems += 1;
      }
    }

    for (let i = 0; i < bundle.messages.length; i += 1) {
      const message = bundle.messages[i];
      const item = document.querySelector('.message[data-message-id="' + Number(message.id) + '"]');
      if (!item || !message.sealed_body) {
        continue;
      }
      const messagePair = await staff.orgKeyPair(message.org_key_id || bundle.org_key_id);
      if (mine !== generation) {
        return;
      }
      try {
        if (!messagePair) {
          throw new Error("no key");
        }
        renderMessage(item, sealed.openJson(message.sealed_body, messagePair));
      } catch (e) {
        item.querySelector(".message-body").replaceChildren(el("p", "error-message", text.failed));
        problems += 1;
      }
    }

    if (answers && typeof answers === "object") {
      await indexIfStale(answers, bundle);
      if (mine !== generation) {
        return;
      }
    }

    const template = root.getAttribute("data-attachment-url");
    for (let j = 0; j < bundle.attachments.length; j += 1) {
      const attachment = bundle.attachments[j];
      const row = document.querySelector('[data-attachment-id="' + Number(attachment.id) + '"]');
      if (!row || !pair) {
        continue;
      }
      try {
        await showAttachment(row, template.replace(/\/0$/, "/" + Number(attachment.id)), pair, mine);
      } catch (e) {
        row.appendChild(el("span", "error-message", " " + text.failed));
        problems += 1;
      }
      if (mine !== generation) {
        return;
      }
    }
    if (pair && !problems) {
      setNotice("unlocked", "unlocked");
    } else if (pair) {
      setNotice("failed", "error");
    }
  }

  function setUpSealedForm(form) {
    const textarea = form.querySelector("textarea");
    const button = form.querySelector("button[type=submit]");
    const error = form.querySelector(".field-error");
    const notePublicKey = root.getAttribute("data-note-public-key");
    const replyPublicKey = root.getAttribute("data-reply-public-key");
    const kind = form.getAttribute("data-kind");
    const label = button.textContent;
    if (!notePublicKey || (kind === "reply" && !replyPublicKey)) {
      return;
    }
    textarea.disabled = false;
    button.disabled = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const value = textarea.value;
      if (!value.trim()) {
        staff.refuse(error, text.note_empty, textarea);
        textarea.focus();
        return;
      }
      if (staff.refusedTooLong(textarea)) {
        return; // said by the counter under the box
      }
      error.hidden = true;
      textarea.removeAttribute("aria-invalid");
      button.disabled = true;
      button.textContent = text.sealing;
      // Only ciphertext leaves this page: the textarea has no name and is never submitted.
      if (kind === "reply") {
        form.elements.sealed_body.value = sealed.sealJson({ body: value }, replyPublicKey);
        form.elements.sealed_copy.value = sealed.sealJson(
          { body: value, copy_of_reply: true },
          notePublicKey,
        );
      } else {
        form.elements.sealed_body.value = sealed.sealJson({ body: value }, notePublicKey);
      }
      let problem;
      try {
        problem = await staff.postWithFreshCsrf(form, text.not_saved);
      } catch (e) {
        problem = text.not_saved;
      }
      if (problem === null) {
        textarea.value = "";
        staff.reloadAtSavedPlace();
        return;
      }
      // Refused or offline: what they wrote stays in the box so nothing is lost.
      staff.refuse(error, problem);
      button.disabled = false;
      button.textContent = label;
    });
  }

  function start() {
    document.querySelectorAll("form.sealed-form").forEach(setUpSealedForm);
    const ring = staff.keyring();
    if (ring && typeof ring.onChange === "function") {
      ring.onChange(function () {
        decryptAll();
      });
    }
    decryptAll();
  }

  window.addEventListener("pagehide", function () {
    blobUrls.forEach(function (url) {
      URL.revokeObjectURL(url);
    });
  });

  sodium.ready.then(start);
})();
