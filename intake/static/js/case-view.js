/*
 * Refuge case page: decrypts a case in the caseworker's browser and seals notes and replies.
 *
 * The server sends only ciphertext. The organisation key pair comes from window.RefugeKeyring
 * (keyring.js, unlocked from the caseworker's password); nothing decrypted is ever sent back.
 * Decrypted text goes into the page with textContent only, never as HTML.
 *
 * Formats (standard base64 = sodium.base64_variants.ORIGINAL; see intake/services/cases.py):
 *   answers     base64(crypto_box_seal(sodium_pad(UTF-8 JSON object, 1024), org key))
 *   messages    base64(crypto_box_seal(sodium_pad(UTF-8 JSON {"body": text}, 1024), key))
 *   attachments raw bytes of crypto_box_seal(file envelope, org key); the envelope is the
 *               UTF-8 JSON header {"name", "type", "size"}, one "\n" byte, then the file.
 *               Also accepted: a padded JSON {name, type, data: base64}, the sealed box as
 *               base64 text, or bare file bytes.
 */
(function () {
  "use strict";

  var root = document.getElementById("case-view");
  if (!root) {
    return;
  }
  var text = JSON.parse(document.getElementById("case-view-text").textContent);
  var questions = JSON.parse(document.getElementById("case-view-answers").textContent);
  var notice = document.getElementById("case-lock");
  var answersBox = document.getElementById("answers");
  var BLOCK = 1024;
  var blobUrls = [];
  var generation = 0;

  function keyring() {
    return window.RefugeKeyring || null;
  }

  function setNotice(key, state) {
    notice.textContent = text[key];
    notice.setAttribute("data-state", state);
  }

  function b64encode(bytes) {
    return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
  }

  function b64decode(value) {
    return sodium.from_base64(value, sodium.base64_variants.ORIGINAL);
  }

  function utf8(bytes) {
    return new TextDecoder("utf-8").decode(bytes);
  }

  function unpadIfPadded(bytes) {
    if (bytes.length && bytes.length % BLOCK === 0) {
      try {
        return sodium.unpad(bytes, BLOCK);
      } catch (e) {
        return bytes;
      }
    }
    return bytes;
  }

  function open(sealed, pair) {
    return sodium.crypto_box_seal_open(sealed, pair.publicKey, pair.privateKey);
  }

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (content !== undefined && content !== null) {
      node.textContent = String(content);
    }
    return node;
  }

  function humanise(key) {
    var words = String(key).replace(/[_-]+/g, " ").trim();
    return words ? words.charAt(0).toUpperCase() + words.slice(1) : String(key);
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
      return el("span", "answer-text", value);
    }
    if (Array.isArray(value)) {
      if (!value.length) {
        return el("span", "empty-value", text.empty);
      }
      var list = el("ul", "answer-list");
      value.forEach(function (item) {
        var li = el("li");
        li.appendChild(renderValue(item));
        list.appendChild(li);
      });
      return list;
    }
    var dl = el("dl", "answer-fields");
    Object.keys(value).forEach(function (key) {
      var row = el("div", "answer-row");
      row.setAttribute("data-answer-key", key);
      row.appendChild(el("dt", null, humanise(key)));
      var dd = el("dd");
      dd.appendChild(renderValue(value[key]));
      row.appendChild(dd);
      dl.appendChild(row);
    });
    return dl;
  }

  /* The top level of the answers: in the form's order, labelled as the form asked them. */
  function renderAnswers(answers) {
    if (!answers || typeof answers !== "object" || Array.isArray(answers)) {
      return renderValue(answers);
    }
    var keys = questions.order.filter(function (key) {
      return Object.prototype.hasOwnProperty.call(answers, key);
    });
    Object.keys(answers).forEach(function (key) {
      if (keys.indexOf(key) < 0) {
        keys.push(key);
      }
    });
    var dl = el("dl", "answer-fields");
    keys.forEach(function (key) {
      var value = answers[key];
      var options = questions.choices[key];
      if (options && typeof value === "string" && Object.prototype.hasOwnProperty.call(options, value)) {
        value = options[value];
      }
      var row = el("div", "answer-row");
      row.setAttribute("data-answer-key", key);
      var label = Object.prototype.hasOwnProperty.call(questions.labels, key)
        ? questions.labels[key]
        : humanise(key);
      row.appendChild(el("dt", null, label));
      var dd = el("dd");
      dd.appendChild(renderValue(value));
      row.appendChild(dd);
      dl.appendChild(row);
    });
    return dl;
  }

  function placeholder() {
    return el("p", "placeholder", text.locked);
  }

  function clearDecrypted() {
    generation += 1;
    answersBox.replaceChildren(placeholder());
    document.querySelectorAll(".message[data-kind]").forEach(function (item) {
      if (item.getAttribute("data-kind") !== "staff_reply") {
        item.querySelector(".message-body").replaceChildren(placeholder());
      }
    });
    document.querySelectorAll("[data-attachment-id]").forEach(function (row) {
      row.querySelectorAll(".attachment-download, .error-message").forEach(function (node) {
        node.remove();
      });
      var name = row.querySelector(".attachment-name");
      if (name.hasAttribute("data-placeholder")) {
        name.textContent = name.getAttribute("data-placeholder");
      }
    });
    blobUrls.forEach(function (url) {
      URL.revokeObjectURL(url);
    });
    blobUrls = [];
  }

  async function pairFor(orgKeyId) {
    var ring = keyring();
    if (!ring || !ring.isUnlocked()) {
      return null;
    }
    try {
      return await ring.orgKeyPair(Number(orgKeyId));
    } catch (e) {
      return null;
    }
  }

  function renderMessage(item, plain) {
    var body = item.querySelector(".message-body");
    var value = plain;
    try {
      value = JSON.parse(plain);
    } catch (e) {
      value = plain;
    }
    var container = el("div");
    if (value && typeof value === "object" && !Array.isArray(value)) {
      if (value.copy_of_reply) {
        container.appendChild(el("p", "hint", text.copy_of_reply));
      }
      var said = typeof value.body === "string" ? value.body : value.text;
      if (typeof said === "string") {
        container.appendChild(el("p", "message-text", said));
      } else {
        container.appendChild(renderValue(value));
      }
    } else {
      container.appendChild(el("p", "message-text", value));
    }
    body.replaceChildren(container);
  }

  var HEADER_MAX = 4096;

  /* The intake envelope: JSON header, "\n", file bytes (JSON escapes newlines in strings). */
  function parseEnvelope(plain) {
    var end = plain.subarray(0, HEADER_MAX).indexOf(10);
    if (end < 0) {
      return null;
    }
    try {
      var header = JSON.parse(utf8(plain.subarray(0, end)));
      if (header && typeof header === "object" && typeof header.name === "string") {
        return {
          name: header.name || text.file,
          type: String(header.type || ""),
          bytes: plain.slice(end + 1),
        };
      }
    } catch (e) {
      /* not an envelope */
    }
    return null;
  }

  function parseAttachment(sealedPlain) {
    var envelope = parseEnvelope(sealedPlain);
    if (envelope) {
      return envelope;
    }
    var plain = unpadIfPadded(sealedPlain);
    try {
      var obj = JSON.parse(utf8(plain));
      if (obj && typeof obj === "object" && typeof obj.data === "string") {
        return {
          name: String(obj.name || text.file),
          type: String(obj.type || ""),
          bytes: b64decode(obj.data),
        };
      }
    } catch (e) {
      /* not JSON: the bare file bytes */
    }
    return { name: text.file, type: "", bytes: plain };
  }

  function openAttachment(raw, pair) {
    var plain;
    try {
      plain = open(raw, pair);
    } catch (e) {
      // Stored as the base64 text of the sealed box rather than its bytes.
      plain = open(b64decode(utf8(raw).trim()), pair);
    }
    return parseAttachment(plain);
  }

  async function showAttachment(item, url, pair, mine) {
    var response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) {
      throw new Error("attachment " + response.status);
    }
    var raw = new Uint8Array(await response.arrayBuffer());
    var file = openAttachment(raw, pair);
    if (mine !== generation) {
      return;
    }
    // Always a download, never displayed: a decrypted file must not run in our origin.
    var blob = new Blob([file.bytes], { type: "application/octet-stream" });
    var href = URL.createObjectURL(blob);
    blobUrls.push(href);
    var safeName = file.name.replace(/[\\/\u0000-\u001f]/g, "_").slice(0, 200) || text.file;
    item.querySelectorAll(".attachment-download, .error-message").forEach(function (node) {
      node.remove();
    });
    var label = item.querySelector(".attachment-name");
    if (!label.hasAttribute("data-placeholder")) {
      label.setAttribute("data-placeholder", label.textContent);
    }
    label.textContent = safeName;
    var link = el("a", "attachment-download button secondary", text.download);
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
    var ring = keyring();
    if (!ring) {
      setNotice("no_keyring", "locked");
      return;
    }
    if (!ring.isUnlocked()) {
      clearDecrypted();
      setNotice("locked", "locked");
      return;
    }
    var mine = ++generation;
    setNotice("decrypting", "busy");
    var bundle;
    try {
      var response = await fetch(root.getAttribute("data-sealed-url"), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) {
        throw new Error("sealed " + response.status);
      }
      bundle = await response.json();
    } catch (e) {
      setNotice("fetch_failed", "error");
      return;
    }
    var pair = await pairFor(bundle.org_key_id);
    if (mine !== generation) {
      return;
    }
    var problems = 0;
    if (!pair) {
      setNotice("no_key", "error");
      problems += 1;
    } else {
      try {
        var plain = unpadIfPadded(open(b64decode(bundle.sealed_answers), pair));
        answersBox.replaceChildren(renderAnswers(JSON.parse(utf8(plain))));
      } catch (e) {
        answersBox.replaceChildren(el("p", "error-message", text.failed));
        problems += 1;
      }
    }

    for (var i = 0; i < bundle.messages.length; i += 1) {
      var message = bundle.messages[i];
      var item = document.querySelector('.message[data-message-id="' + Number(message.id) + '"]');
      if (!item || !message.sealed_body) {
        continue;
      }
      var messagePair = await pairFor(message.org_key_id || bundle.org_key_id);
      if (mine !== generation) {
        return;
      }
      try {
        if (!messagePair) {
          throw new Error("no key");
        }
        var body = unpadIfPadded(open(b64decode(message.sealed_body), messagePair));
        renderMessage(item, utf8(body));
      } catch (e) {
        item.querySelector(".message-body").replaceChildren(el("p", "error-message", text.failed));
        problems += 1;
      }
    }

    var template = root.getAttribute("data-attachment-url");
    for (var j = 0; j < bundle.attachments.length; j += 1) {
      var attachment = bundle.attachments[j];
      var row = document.querySelector('[data-attachment-id="' + Number(attachment.id) + '"]');
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

  function sealJson(value, publicKeyB64) {
    var bytes = sodium.from_string(JSON.stringify(value));
    var sealed = sodium.crypto_box_seal(sodium.pad(bytes, BLOCK), b64decode(publicKeyB64));
    return b64encode(sealed);
  }

  /* A fresh CSRF token from this page's URL (the old one expired while they were writing). */
  async function freshToken() {
    var response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok) {
      return null;
    }
    var html = new DOMParser().parseFromString(await response.text(), "text/html");
    var input = html.querySelector("input[name=csrf_token]");
    return input ? input.value : null;
  }

  /* Post the ciphertext; true when the server accepted it (it answers with a redirect). */
  function post(form) {
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

  async function submitSealed(form) {
    var response = await post(form);
    if (!accepted(response) && response.status === 400) {
      // Most likely an expired CSRF token: fetch a new one and send the same ciphertext again.
      var token = await freshToken();
      if (token) {
        document.querySelectorAll("input[name=csrf_token]").forEach(function (input) {
          input.value = token;
        });
        response = await post(form);
      }
    }
    if (accepted(response)) {
      return null;
    }
    try {
      var body = await response.json();
      return body && body.error ? String(body.error) : text.not_saved;
    } catch (e) {
      return text.not_saved;
    }
  }

  function setUpSealedForm(form) {
    var textarea = form.querySelector("textarea");
    var button = form.querySelector("button[type=submit]");
    var error = form.querySelector(".field-error");
    var notePublicKey = root.getAttribute("data-note-public-key");
    var replyPublicKey = root.getAttribute("data-reply-public-key");
    var kind = form.getAttribute("data-kind");
    var label = button.textContent;
    if (!notePublicKey || (kind === "reply" && !replyPublicKey)) {
      return;
    }
    textarea.disabled = false;
    button.disabled = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var value = textarea.value;
      if (!value.trim()) {
        error.textContent = text.note_empty;
        error.hidden = false;
        textarea.focus();
        return;
      }
      error.hidden = true;
      button.disabled = true;
      button.textContent = text.sealing;
      // Only ciphertext leaves this page: the textarea has no name and is never submitted.
      if (kind === "reply") {
        form.elements.sealed_body.value = sealJson({ body: value }, replyPublicKey);
        form.elements.sealed_copy.value = sealJson(
          { body: value, copy_of_reply: true },
          notePublicKey,
        );
      } else {
        form.elements.sealed_body.value = sealJson({ body: value }, notePublicKey);
      }
      var problem;
      try {
        problem = await submitSealed(form);
      } catch (e) {
        problem = text.not_saved;
      }
      if (problem === null) {
        textarea.value = "";
        window.location.assign(window.location.pathname);
        return;
      }
      // Refused or offline: what they wrote stays in the box so nothing is lost.
      error.textContent = problem;
      error.hidden = false;
      button.disabled = false;
      button.textContent = label;
    });
  }

  function start() {
    document.querySelectorAll("form.sealed-form").forEach(setUpSealedForm);
    var ring = keyring();
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
