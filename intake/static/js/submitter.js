/* Refuge: what the submitter's pages share (window.Refuge.submitter): the intake form
 * (intake.js) and the follow-up on /status (status.js): sealing and sending, and the busy
 * state of a form while it is being sent.
 *
 * Answers and messages are sealed as padded JSON, files as the file envelope (sealed.js); each
 * file's ciphertext is posted as it is, a binary part whose file name is "sealed", so that its
 * real name never leaves the browser. (Pages before these named it "sealed.bin" and sent it in
 * base64, a third larger: the server still reads those, from a tab left open over a deploy.)
 * Plaintext never leaves this browser except as ciphertext.
 */
(function () {
  "use strict";
  if (!window.Refuge || !window.Refuge.sealed) {
    return; // sealed.js did not load: the pages post as without JavaScript
  }
  const sealed = window.Refuge.sealed;
  // On a slow phone link an upload of a few MB legitimately takes a minute: no fixed time
  // limit, but a link that has gone silent is a stall. No byte of the upload taken for this
  // long, or no answer this long after the last byte left (the server files it in a second).
  const NO_PROGRESS_MS = 45000;
  const NO_ANSWER_MS = 60000;

  /* libsodium comes last (the pages load it deferred, after the scripts that make the form
   * work: about 400 KB, 13 s on 2G): resolved once it has run, or failed to load, which is
   * when the deferred scripts are all done (DOMContentLoaded). */
  const loaded = new Promise(function (resolve) {
    if (typeof sodium !== "undefined" || document.readyState === "complete") {
      resolve();
      return;
    }
    document.addEventListener("DOMContentLoaded", resolve, { once: true });
    window.addEventListener("load", resolve, { once: true });
  });

  /* Resolves once libsodium is there and its WebAssembly started; rejects when it did not
   * load (blocked, or the link failed). */
  function ready() {
    return loaded.then(function () {
      if (typeof sodium === "undefined") {
        throw new Error("libsodium did not load");
      }
      return sodium.ready;
    });
  }

  /* One request by XMLHttpRequest, whose upload reports its progress (fetch does not): resolves
   * to {status, text} for any answer. A link gone silent (see NO_PROGRESS_MS) is given up:
   * rejects with error.stalled; no connection at all, with a plain network error. onUpload(sent,
   * total) is told of each step of the upload, onUploaded() when the last byte left. */
  function exchange(method, url, body, headers, hooks) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      let timer = null;
      let settled = false;
      function settle(act, value) {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          act(value);
        }
      }
      function silentFor(ms) {
        clearTimeout(timer);
        timer = setTimeout(function () {
          const error = new Error("the connection stalled");
          error.stalled = true;
          settle(reject, error);
          xhr.abort();
        }, ms);
      }
      xhr.open(method, url);
      for (const name of Object.keys(headers)) {
        xhr.setRequestHeader(name, headers[name]);
      }
      if (body) {
        xhr.upload.addEventListener("progress", function (event) {
          silentFor(NO_PROGRESS_MS);
          if (hooks.onUpload && event.lengthComputable && event.total > 0) {
            hooks.onUpload(event.loaded, event.total);
          }
        });
        xhr.upload.addEventListener("load", function () {
          silentFor(NO_ANSWER_MS);
          if (hooks.onUploaded) {
            hooks.onUploaded();
          }
        });
      }
      // The answer arriving, however slowly, is not a stall.
      xhr.addEventListener("readystatechange", function () {
        if (xhr.readyState >= XMLHttpRequest.HEADERS_RECEIVED && xhr.readyState < XMLHttpRequest.DONE) {
          silentFor(NO_ANSWER_MS);
        }
      });
      xhr.addEventListener("progress", function () {
        silentFor(NO_ANSWER_MS);
      });
      xhr.addEventListener("load", function () {
        settle(resolve, { status: xhr.status, text: xhr.responseText });
      });
      xhr.addEventListener("error", function () {
        settle(reject, new Error("network error"));
      });
      xhr.addEventListener("abort", function () {
        settle(reject, new Error("aborted"));
      });
      silentFor(body ? NO_PROGRESS_MS : NO_ANSWER_MS);
      xhr.send(body || null);
    });
  }

  /* A fresh CSRF token and the current organisation key, right before sealing: the person may
   * have spent hours writing, and the key may have been rotated meanwhile. */
  async function fetchKey(url) {
    let response;
    try {
      response = await exchange("GET", url, null, { Accept: "application/json" }, {});
    } catch (error) {
      // The server was not reached (offline, a dropped or stalled connection): nothing was
      // sent yet.
      error.unreached = true;
      throw error;
    }
    if (response.status < 200 || response.status >= 300) {
      throw new Error("key " + response.status);
    }
    return JSON.parse(response.text);
  }

  /* The answers or message, sealed to the key send() was given. */
  function sealObject(object, keyInfo) {
    return sealed.sealJson(object, keyInfo.public_key);
  }

  /* Each file sealed to the key and appended to the form data as "attachments", in the order
   * chosen: the raw ciphertext as a binary part (the Blob keeps its own copy of the bytes). */
  async function appendSealedFiles(body, files, keyInfo) {
    for (const file of files) {
      const ciphertext = await sealed.sealFile(file, keyInfo.public_key);
      body.append("attachments", new Blob([ciphertext], { type: "application/octet-stream" }), "sealed");
    }
  }

  /* No answer to the POST (a dropped or stalled connection) is not a refusal: the server may
   * have stored it. The error thrown says so (error.unanswered; error.stalled too when the
   * link went silent and this page gave up), and so does an answer whose body never arrived
   * whole (answered: false); a caller tells the person what is true of each. */
  async function post(url, body, token, hooks) {
    let response;
    try {
      response = await exchange("POST", url, body, { Accept: "application/json", "X-CSRFToken": token }, hooks);
    } catch (error) {
      error.unanswered = true;
      throw error;
    }
    let result = {};
    let answered = true;
    try {
      result = JSON.parse(response.text);
    } catch (error) {
      result = {};
      answered = false;
    }
    const ok = response.status >= 200 && response.status < 300;
    return { ok: ok, status: response.status, result: result || {}, answered: answered };
  }

  /* Seal and post to form.action with the key and CSRF token from keyUrl, fetched right now.
   * build(keyInfo) returns the FormData (routing fields, sealObject(...)); each file is sealed
   * and appended after it. Resolves to {ok, status, result (the server's JSON)}. hooks, each
   * optional: onWork() before a proof of work starts (it takes seconds: say so to the person),
   * onUpload(sent, total) as the upload goes, onUploaded() when all of it left. Rejects with
   * error.unanswered set when the POST got no answer (see post), with error.unreached set when
   * the server could not be reached before anything was sent, and error.stalled with either
   * when the link went silent (NO_PROGRESS_MS). */
  async function send(form, keyUrl, files, build, hooks) {
    // hooks was onWork alone before (a function): it still is, where a caller passes one.
    const on = typeof hooks === "function" ? { onWork: hooks } : hooks || {};
    await ready();
    const keyInfo = await fetchKey(keyUrl);
    const body = build(keyInfo);
    await appendSealedFiles(body, files, keyInfo);
    const sent = await post(form.action, body, keyInfo.csrf_token, on);
    if (sent.status === 429 && keyInfo.pow && form.id === "intake-form") {
      // This address's budget is spent (a shared Tor exit or office): show a little work and
      // send once more (README "Shared addresses").
      if (on.onWork) {
        on.onWork();
      }
      body.append("pow_challenge", keyInfo.pow.challenge);
      body.append("pow_nonce", await solveProofOfWork(keyInfo.pow.challenge, keyInfo.pow.bits));
      return post(form.action, body, keyInfo.csrf_token, on);
    }
    return sent;
  }

  /* "Sending: 40%" in the page's language (template: the form's data-msg-progress, {percent}),
   * its digits as the page writes numbers (Latin ones, as the server writes them). */
  function progressText(template, sent, total) {
    const share = Math.min(0.99, Math.max(0, sent / total)); // 100% is said by "sent"
    let percent;
    try {
      percent = new Intl.NumberFormat(document.documentElement.lang || undefined, {
        style: "percent",
        numberingSystem: "latn",
      }).format(Math.floor(share * 100) / 100);
    } catch (error) {
      percent = Math.floor(share * 100) + "%";
    }
    return (template || "").replace("{percent}", function () {
      return percent;
    });
  }

  function leadingZeroBits(bytes) {
    let count = 0;
    for (const byte of bytes) {
      if (byte === 0) {
        count += 8;
        continue;
      }
      return count + Math.clz32(byte) - 24;
    }
    return count;
  }

  /* Hashcash over BLAKE2b: the first nonce whose BLAKE2b-256("challenge:nonce") starts with
   * `bits` zero bits (intake/services/proof_of_work.py checks it). libsodium's synchronous
   * hash (WebAssembly) does about three times the digests of WebCrypto, whose promise per
   * digest costs more than the hash (bench/bench_pow.py), and BLAKE2b is in its standard build,
   * which the public pages load (SHA-256 is only in the "sumo" build, 85 KB more on the wire);
   * the work goes in chunks that give the page back between them, so it stays responsive. */
  async function solveProofOfWork(challenge, bits) {
    await ready();
    const encoder = new TextEncoder();
    const prefix = encoder.encode(challenge + ":");
    const buffer = new Uint8Array(prefix.length + 20); // the prefix, then the nonce's digits
    buffer.set(prefix);
    const chunk = 4096;
    for (let start = 0; ; start += chunk) {
      for (let nonce = start; nonce < start + chunk; nonce += 1) {
        const digits = encoder.encodeInto(String(nonce), buffer.subarray(prefix.length)).written;
        const digest = sodium.crypto_generichash(32, buffer.subarray(0, prefix.length + digits));
        if (leadingZeroBits(digest) >= bits) {
          return String(nonce);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  /* A submission token: 32 random bytes, base64url without padding (what
   * crypto.submission_token_bytes reads). One per filled intake form, one per written
   * follow-up: every attempt at the same thing sends the same one, so it is stored once. */
  function newSubmissionToken() {
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /* The receipt code as crypto.normalise_receipt_code reads it: full-width forms as ASCII
   * (NFKC), spaces, zero-width characters and dashes of any kind dropped (a phone's en dash,
   * a full-width hyphen): crypto.CODE_SEPARATOR_CLASS, the same text (a test compares). */
  const CODE_SEPARATORS = /[\t\n\v\f\r\u0020\u0085\u00a0\u1680\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff\-\u00ad\u2010-\u2015\u2212\ufe58\ufe63\uff0d]+/g;
  /* Look-alikes another keyboard types (crypto._CODE_LOOKALIKES): Cyrillic and Greek
   * capitals, Arabic-Indic and Persian digits, read as the ASCII they look like. */
  const CODE_LOOKALIKES = (function () {
    const from = "АВЕЗКМНОРСТУХЅІЈҮ" + "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ" + "٠١٢٣٤٥٦٧٨٩" + "۰۱۲۳۴۵۶۷۸۹";
    const to = "ABE3KMHOPCTYXSIJY" + "ABEZHIKMNOPTYX" + "0123456789" + "0123456789";
    const table = new Map();
    Array.from(from).forEach(function (ch, i) {
      table.set(ch, to[i]);
    });
    return table;
  })();
  function normaliseCode(code) {
    const cleaned = Array.from(String(code || "").normalize("NFKC").replace(CODE_SEPARATORS, "").toUpperCase(), function (ch) {
      return CODE_LOOKALIKES.get(ch) || ch;
    })
      .join("")
      .replace(/O/g, "0")
      .replace(/[IL]/g, "1");
    return /^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{20}$/.test(cleaned) ? cleaned : null;
  }

  /* The reply keypair, exactly as crypto.reply_keypair derives it. */
  function replyKeypair(normalisedCode) {
    const seed = sodium.crypto_generichash(32, sodium.from_string("refuge-reply-key-v1:" + normalisedCode));
    return sodium.crypto_box_seed_keypair(seed);
  }

  // Sentences one after another as the page's language writes them: base.html says what goes
  // between them (nothing in Chinese, where a space after "。" shows as a gap).
  function sentences(parts) {
    return parts.filter(Boolean).join(document.documentElement.dataset.sentenceGap ?? " ");
  }

  /* What is wrong with the files chosen in input: too many, one too large, one empty (0 bytes:
   * nothing of it would arrive, and the person would believe it sent). messages.empty says it
   * of {name}. The server cannot tell an empty file once sealed (padded, it is as long as a
   * small one): this is the only check of it with JavaScript. */
  function checkFiles(input, maxFiles, maxBytes, messages) {
    const problems = [];
    const files = input ? Array.from(input.files || []) : [];
    if (files.length > maxFiles) {
      problems.push(messages.tooMany);
    }
    for (const file of files) {
      if (file.size > maxBytes) {
        problems.push(sentences([messages.tooLarge, file.name]));
      } else if (file.size === 0 && messages.empty) {
        problems.push(messages.empty.replace("{name}", function () {
          return file.name;
        }));
      }
    }
    return problems;
  }

  /* While a form is being sent (seconds on Tor or a slow phone connection) it is busy, and
   * looks it (refuge.css): the form says aria-busy, its Send button is disabled, and so are the
   * language buttons (base.html), which would otherwise leave the page mid-send. The page says
   * what is under way with sayStatus. Off: everything works again. */
  function setBusy(form, sendButton, on) {
    if (on) {
      form.setAttribute("aria-busy", "true");
    } else {
      form.removeAttribute("aria-busy");
    }
    sendButton.disabled = on;
    for (const button of document.querySelectorAll("button[data-language-url]")) {
      button.disabled = on;
    }
  }

  /* What is under way, in the form's status line (a live region, so it is announced), scrolled
   * into view: on a phone, Send may be the last thing on screen. */
  function sayStatus(statusLine, message) {
    statusLine.textContent = message;
    statusLine.scrollIntoView({ block: "nearest" });
  }

  window.Refuge.submitter = Object.freeze({
    ready: ready,
    loaded: function () {
      return loaded;
    },
    progressText: progressText,
    sealObject: sealObject,
    send: send,
    normaliseCode: normaliseCode,
    replyKeypair: replyKeypair,
    checkFiles: checkFiles,
    sentences: sentences,
    newSubmissionToken: newSubmissionToken,
    solveProofOfWork: solveProofOfWork,
    setBusy: setBusy,
    sayStatus: sayStatus,
  });
})();
