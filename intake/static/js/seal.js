/* Refuge: sealing in the browser with libsodium (crypto_box_seal), shared by the public pages.
 *
 * Shapes (the server and the caseworkers' pages rely on them; see intake/services/cases.py):
 * - answers and messages: crypto_box_seal(sodium_pad(UTF-8 JSON, 1024)), base64 ORIGINAL;
 * - files: crypto_box_seal(JSON header {name, type, size} + "\n" + bytes), base64 ORIGINAL,
 *   posted as a file part named "sealed.bin" so the real name never leaves the browser.
 * Plaintext never leaves this file except as ciphertext.
 */
(function () {
  "use strict";
  const PAD_BLOCK = 1024;

  function b64(bytes) {
    return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
  }

  function publicKey(keyInfo) {
    return sodium.from_base64(keyInfo.public_key, sodium.base64_variants.ORIGINAL);
  }

  function sealObject(object, keyInfo) {
    const padded = sodium.pad(sodium.from_string(JSON.stringify(object)), PAD_BLOCK);
    return b64(sodium.crypto_box_seal(padded, publicKey(keyInfo)));
  }

  async function sealFile(file, keyInfo) {
    const header = sodium.from_string(
      JSON.stringify({ name: file.name, type: file.type || "application/octet-stream", size: file.size })
    );
    const data = new Uint8Array(await file.arrayBuffer());
    const envelope = new Uint8Array(header.length + 1 + data.length);
    envelope.set(header, 0);
    envelope[header.length] = 0x0a;
    envelope.set(data, header.length + 1);
    const sealed = b64(sodium.crypto_box_seal(envelope, publicKey(keyInfo)));
    data.fill(0);
    envelope.fill(0);
    return new Blob([sealed], { type: "application/octet-stream" });
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

  window.RefugeSeal = {
    ready: function () { return sodium.ready; },
    sealObject: sealObject,
    sealFile: sealFile,
    fetchKey: fetchKey,
    post: post,
    normaliseCode: normaliseCode,
    replyKeypair: replyKeypair,
    checkFiles: checkFiles,
  };
})();
