/* Refuge: the sealed payloads, written and read in the browser (window.Refuge.sealed).
 *
 * The only formats the server writes and reads (intake/crypto.py, intake/services/submissions.py):
 * - answers, messages and notes: crypto_box_seal(sodium_pad(UTF-8 JSON, 1024)) — messages and
 *   notes are the JSON object {"body": text};
 * - files: crypto_box_seal(file envelope), the envelope being the UTF-8 JSON header
 *   {name, type, size}, one "\n" byte, then the file's bytes (JSON escapes newlines inside
 *   strings, so the first "\n" ends the header). The server stores the raw sealed bytes.
 * Base64 on the wire is the standard alphabet with padding (base64_variants.ORIGINAL), which
 * is what PyNaCl's side decodes. Needs libsodium-wrappers, and sodium.ready before any call.
 */
(function () {
  "use strict";
  const PAD_BLOCK = 1024; // intake.crypto.PAD_BLOCK
  const FILE_HEADER_MAX = 4096; // more than the server ever writes (FILE_HEADER_MAX = 1024)
  const NEWLINE = 0x0a;

  function utf8(bytes) {
    return new TextDecoder("utf-8").decode(bytes);
  }

  function toBase64(bytes) {
    return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
  }

  function fromBase64(text) {
    return sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
  }

  /* A public key as the server sends it (base64) or as raw bytes. */
  function keyBytes(publicKey) {
    return typeof publicKey === "string" ? fromBase64(publicKey) : publicKey;
  }

  /* Raw bytes sealed to a public key, as base64 (key grants, the first organisation key). */
  function sealBytes(bytes, publicKey) {
    return toBase64(sodium.crypto_box_seal(bytes, keyBytes(publicKey)));
  }

  /* A JSON value, padded and sealed: the raw sealed bytes (for a length check before posting). */
  function sealJsonBytes(value, publicKey) {
    const padded = sodium.pad(sodium.from_string(JSON.stringify(value)), PAD_BLOCK);
    return sodium.crypto_box_seal(padded, keyBytes(publicKey));
  }

  /* A JSON value, padded and sealed, as base64: answers, messages, notes. */
  function sealJson(value, publicKey) {
    return toBase64(sealJsonBytes(value, publicKey));
  }

  /* The JSON value of padded, sealed base64; throws when it does not open or is not that. */
  function openJson(sealedBase64, pair) {
    const padded = sodium.crypto_box_seal_open(fromBase64(sealedBase64), pair.publicKey, pair.privateKey);
    return JSON.parse(utf8(sodium.unpad(padded, PAD_BLOCK)));
  }

  /* The body of a sealed message or note ({"body": text}); throws on anything else. */
  function openBody(sealedBase64, pair) {
    const value = openJson(sealedBase64, pair);
    if (!value || typeof value !== "object" || typeof value.body !== "string") {
      throw new Error("not a message");
    }
    return value.body;
  }

  /* A File as the envelope sealed to the key, base64 (the submitter posts it as "sealed.bin"). */
  async function sealFile(file, publicKey) {
    const header = sodium.from_string(
      JSON.stringify({ name: file.name, type: file.type || "application/octet-stream", size: file.size })
    );
    const data = new Uint8Array(await file.arrayBuffer());
    const envelope = new Uint8Array(header.length + 1 + data.length);
    envelope.set(header, 0);
    envelope[header.length] = NEWLINE;
    envelope.set(data, header.length + 1);
    const sealed = sealBytes(envelope, publicKey);
    data.fill(0);
    envelope.fill(0);
    return sealed;
  }

  /* The raw sealed bytes of an attachment -> {name, type, bytes}; throws on anything else. */
  function openFile(sealedBytes, pair) {
    const plain = sodium.crypto_box_seal_open(sealedBytes, pair.publicKey, pair.privateKey);
    const end = plain.subarray(0, FILE_HEADER_MAX).indexOf(NEWLINE);
    if (end < 0) {
      throw new Error("not a file envelope");
    }
    const header = JSON.parse(utf8(plain.subarray(0, end)));
    if (!header || typeof header !== "object" || typeof header.name !== "string") {
      throw new Error("not a file envelope");
    }
    return { name: header.name, type: String(header.type || ""), bytes: plain.slice(end + 1) };
  }

  window.Refuge = window.Refuge || {};
  window.Refuge.sealed = Object.freeze({
    PAD_BLOCK: PAD_BLOCK,
    toBase64: toBase64,
    fromBase64: fromBase64,
    sealBytes: sealBytes,
    sealJsonBytes: sealJsonBytes,
    sealJson: sealJson,
    openJson: openJson,
    openBody: openBody,
    sealFile: sealFile,
    openFile: openFile,
  });
})();
