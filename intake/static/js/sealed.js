/* Refuge: the sealed payloads, written and read in the browser (window.Refuge.sealed).
 *
 * The only formats the server writes and reads (intake/crypto.py, intake/services/submissions.py):
 * - answers, messages and notes: crypto_box_seal(sodium_pad(UTF-8 JSON, 1024)) — messages and
 *   notes are the JSON object {"body": text};
 * - files: crypto_box_seal(padded file envelope), the envelope being the UTF-8 JSON header
 *   {name, type, size}, one "\n" byte, then the file's bytes (JSON escapes newlines inside
 *   strings, so the first "\n" ends the header), padded as sodium_pad pads (ISO/IEC 7816-4:
 *   0x80, then zeros) to its size bucket: the next power of two from 4 KiB up to 1 MiB, then
 *   whole MiB (intake.crypto.file_bucket). The server refuses any other length and stores the
 *   raw sealed bytes. Opening keeps the header's size bytes and checks the rest is padding
 *   (attachments stored before padding have none).
 * Sealed answers, messages and keys travel as base64, the standard alphabet with padding
 * (base64_variants.ORIGINAL), which is what PyNaCl's side decodes; a sealed file travels as its
 * raw bytes (submitter.js: a binary part, not a third more in base64). Needs
 * libsodium-wrappers, and sodium.ready before any call.
 */
(function () {
  "use strict";
  const PAD_BLOCK = 1024; // intake.crypto.PAD_BLOCK
  const FILE_HEADER_MAX = 4096; // more than the server ever writes (FILE_HEADER_MAX = 1024)
  const NEWLINE = 0x0a;
  const FILE_BUCKET_MIN = 4 * 1024; // intake.crypto.FILE_BUCKET_MIN
  const FILE_BUCKET_STEP = 1024 * 1024; // intake.crypto.FILE_BUCKET_STEP
  const PADDING_START = 0x80;

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

  /* The padded size of an envelope of `length` bytes: room for at least the 0x80 byte. */
  function fileBucket(length) {
    const needed = length + 1;
    if (needed > FILE_BUCKET_STEP) {
      return Math.ceil(needed / FILE_BUCKET_STEP) * FILE_BUCKET_STEP;
    }
    let bucket = FILE_BUCKET_MIN;
    while (bucket < needed) {
      bucket *= 2;
    }
    return bucket;
  }

  /* A File as the padded envelope sealed to the key: the raw sealed bytes (a Uint8Array,
   * the file's bucket + 48), which the submitter posts as they are. The envelope is built
   * straight into its bucket: the bytes sodium.pad would give (0x80 after the file, zeros to
   * the end), without a second copy of a large file; nor is one made in base64. */
  async function sealFile(file, publicKey) {
    const data = new Uint8Array(await file.arrayBuffer());
    const header = sodium.from_string(
      JSON.stringify({ name: file.name, type: file.type || "application/octet-stream", size: data.length })
    );
    const length = header.length + 1 + data.length;
    const envelope = new Uint8Array(fileBucket(length));
    envelope.set(header, 0);
    envelope[header.length] = NEWLINE;
    envelope.set(data, header.length + 1);
    envelope[length] = PADDING_START;
    const sealed = sodium.crypto_box_seal(envelope, keyBytes(publicKey));
    data.fill(0);
    envelope.fill(0);
    return sealed;
  }

  /* Whether bytes are empty (an attachment stored before padding) or 0x80 then zeros. */
  function isPadding(bytes) {
    if (bytes.length === 0) {
      return true;
    }
    if (bytes[0] !== PADDING_START) {
      return false;
    }
    for (let i = 1; i < bytes.length; i += 1) {
      if (bytes[i] !== 0) {
        return false;
      }
    }
    return true;
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
    const rest = plain.subarray(end + 1);
    const size = header.size;
    if (!Number.isInteger(size) || size < 0 || size > rest.length || !isPadding(rest.subarray(size))) {
      throw new Error("not a file envelope");
    }
    return { name: header.name, type: String(header.type || ""), bytes: rest.slice(0, size) };
  }

  /* A run of digits that reads left to right whatever surrounds it: a phone number, a date
   * ("+20 111 222 3333", "2026-12-04"). In a right-to-left paragraph the bidi algorithm
   * orders such groups from right to left ("3333 222 111 20+"). */
  const NUMBER_RUN = /\+?\d[\d \u00a0().\-/]{4,}\d/g;

  /* Write opened text into `element` as text only, each number run isolated left to right
   * (<bdi dir="ltr">), so that a phone number in an Arabic message reads as it was written. */
  function showText(element, text) {
    const value = String(text);
    const parts = [];
    let last = 0;
    for (const match of value.matchAll(NUMBER_RUN)) {
      if (match.index > last) {
        parts.push(document.createTextNode(value.slice(last, match.index)));
      }
      const run = document.createElement("bdi");
      run.dir = "ltr";
      run.textContent = match[0];
      parts.push(run);
      last = match.index + match[0].length;
    }
    if (last < value.length) {
      parts.push(document.createTextNode(value.slice(last)));
    }
    element.replaceChildren(...parts);
  }

  window.Refuge = window.Refuge || {};
  window.Refuge.sealed = Object.freeze({
    showText: showText,
    PAD_BLOCK: PAD_BLOCK,
    toBase64: toBase64,
    fromBase64: fromBase64,
    sealBytes: sealBytes,
    sealJsonBytes: sealJsonBytes,
    sealJson: sealJson,
    openJson: openJson,
    openBody: openBody,
    fileBucket: fileBucket,
    sealFile: sealFile,
    openFile: openFile,
  });
})();
