/* Refuge: what the submitter's pages share (window.Refuge.submitter): the intake form
 * (intake.js) and the follow-up on /status (status.js).
 *
 * Answers and messages are sealed as padded JSON, files as the file envelope (sealed.js); each
 * file is posted as a part named "sealed.bin" so that its real name never leaves the browser.
 * Plaintext never leaves this browser except as ciphertext.
 */
(function () {
  "use strict";
  if (!window.Refuge || !window.Refuge.sealed) {
    return; // sealed.js did not load: the pages post as without JavaScript
  }
  const sealed = window.Refuge.sealed;

  function ready() {
    return sodium.ready;
  }

  /* A fresh CSRF token and the current organisation key, right before sealing: the person may
   * have spent hours writing, and the key may have been rotated meanwhile. */
  async function fetchKey(url) {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok) {
      throw new Error("key " + response.status);
    }
    return response.json();
  }

  /* The answers or message, sealed to the key send() was given. */
  function sealObject(object, keyInfo) {
    return sealed.sealJson(object, keyInfo.public_key);
  }

  /* Each file sealed to the key and appended to the form data as "attachments". */
  async function appendSealedFiles(body, files, keyInfo) {
    for (const file of files) {
      const envelope = await sealed.sealFile(file, keyInfo.public_key);
      body.append("attachments", new Blob([envelope], { type: "application/octet-stream" }), "sealed.bin");
    }
  }

  async function post(url, body, token) {
    const response = await fetch(url, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json", "X-CSRFToken": token },
      credentials: "same-origin",
    });
    let result = {};
    try {
      result = await response.json();
    } catch (error) {
      result = {};
    }
    return { ok: response.ok, status: response.status, result: result };
  }

  /* Seal and post to form.action with the key and CSRF token from keyUrl, fetched right now.
   * build(keyInfo) returns the FormData (routing fields, sealObject(...)); each file is sealed
   * and appended after it. Resolves to {ok, status, result (the server's JSON)}. */
  async function send(form, keyUrl, files, build) {
    await ready();
    const keyInfo = await fetchKey(keyUrl);
    const body = build(keyInfo);
    await appendSealedFiles(body, files, keyInfo);
    return post(form.action, body, keyInfo.csrf_token);
  }

  /* The receipt code as crypto.normalise_receipt_code reads it. */
  function normaliseCode(code) {
    const cleaned = String(code || "").replace(/\s+/g, "").replace(/-/g, "").toUpperCase()
      .replace(/O/g, "0").replace(/[IL]/g, "1");
    return /^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{20}$/.test(cleaned) ? cleaned : null;
  }

  /* The reply keypair, exactly as crypto.reply_keypair derives it. */
  function replyKeypair(normalisedCode) {
    const seed = sodium.crypto_generichash(32, sodium.from_string("refuge-reply-key-v1:" + normalisedCode));
    return sodium.crypto_box_seed_keypair(seed);
  }

  function checkFiles(input, maxFiles, maxBytes, messages) {
    const problems = [];
    const files = input ? Array.from(input.files || []) : [];
    if (files.length > maxFiles) {
      problems.push(messages.tooMany);
    }
    for (const file of files) {
      if (file.size > maxBytes) {
        problems.push(messages.tooLarge + " " + file.name);
      }
    }
    return problems;
  }

  window.Refuge.submitter = Object.freeze({
    ready: ready,
    sealObject: sealObject,
    send: send,
    normaliseCode: normaliseCode,
    replyKeypair: replyKeypair,
    checkFiles: checkFiles,
  });
})();
