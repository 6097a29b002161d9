/* Refuge keyring: a staff member's keys, unlocked in this browser tab only (DESIGN §1.3, §3).
 *
 * window.RefugeKeyring (the contract other pages code against):
 *   unlock(password) -> Promise<void>
 *       GET /auth/keyring -> {user_public_key, wrapped_secret_key, key_salt, ops_limit,
 *       mem_limit, current_org_key_id, grants: [{org_key_id, org_public_key, sealed_org_secret}]}
 *       wrapping key = crypto_pwhash(32, password, salt, ops, mem, ALG_ARGON2ID13);
 *       staff secret = crypto_secretbox_open_easy(wrapped[24:], wrapped[:24], wrapping key);
 *       each org secret = crypto_box_seal_open(sealed, staff public, staff secret).
 *       Rejects with an Error whose .code is "wrong_password", "no_keys", "network" or
 *       "invalid". Raw keys are kept only in this tab's sessionStorage.
 *   isUnlocked() -> boolean
 *   lock()                       forget every key in this tab
 *   orgKeyPair(orgKeyId) -> Promise<{publicKey: Uint8Array, privateKey: Uint8Array} | null>
 *   currentOrgKeyId() -> number | null   the newest organisation key, if this tab holds it
 *   onChange(callback) -> unsubscribe function; callback(isUnlocked) after unlock and lock
 * The keyring locks itself after KEYRING_IDLE_MINUTES without activity in the tab, when the
 * user signs out, and when a different user signs in in the same tab.
 *
 * window.RefugeKeys: the primitives shared by setup.js, login.js and admin-grants.js.
 */
(function () {
  "use strict";
  if (window.RefugeKeyring) {
    return; // loaded twice on one page: keep the first (its listeners are registered)
  }

  var STORE = "refuge.keyring.v1";
  var ACTIVITY = "refuge.keyring.activity";
  var listeners = [];
  var settings = document.getElementById("lock-state");

  // --- primitives -----------------------------------------------------------------------------

  function keyringError(code, message) {
    var error = new Error(message || code);
    error.code = code;
    return error;
  }

  async function ready() {
    if (!window.sodium) {
      throw keyringError("invalid", "libsodium is not loaded");
    }
    await window.sodium.ready;
    return window.sodium;
  }

  function toB64(bytes) {
    var text = "";
    for (var i = 0; i < bytes.length; i += 1) {
      text += String.fromCharCode(bytes[i]);
    }
    return window.btoa(text);
  }

  function fromB64(text) {
    if (typeof text !== "string" || !text) {
      throw keyringError("invalid", "missing base64");
    }
    var raw = window.atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) {
      return false;
    }
    var diff = 0;
    for (var i = 0; i < a.length; i += 1) {
      diff |= a[i] ^ b[i];
    }
    return diff === 0;
  }

  function deriveWrappingKey(s, password, salt, opsLimit, memLimit) {
    return s.crypto_pwhash(32, password, salt, opsLimit, memLimit, s.crypto_pwhash_ALG_ARGON2ID13);
  }

  /* wrapped = nonce[24] || crypto_secretbox_easy(secret, nonce, key); base64 ORIGINAL. */
  async function wrapSecret(secret, password, opsLimit, memLimit) {
    var s = await ready();
    var salt = s.randombytes_buf(s.crypto_pwhash_SALTBYTES);
    var key = deriveWrappingKey(s, password, salt, Number(opsLimit), Number(memLimit));
    var nonce = s.randombytes_buf(s.crypto_secretbox_NONCEBYTES);
    var box = s.crypto_secretbox_easy(secret, nonce, key);
    s.memzero(key);
    var wrapped = new Uint8Array(nonce.length + box.length);
    wrapped.set(nonce, 0);
    wrapped.set(box, nonce.length);
    return { wrapped: toB64(wrapped), salt: toB64(salt) };
  }

  async function unwrapSecret(wrappedB64, saltB64, password, opsLimit, memLimit) {
    var s = await ready();
    var wrapped = fromB64(wrappedB64);
    var salt = fromB64(saltB64);
    if (salt.length !== s.crypto_pwhash_SALTBYTES || wrapped.length <= 24) {
      throw keyringError("invalid", "wrapped key has the wrong length");
    }
    var key = deriveWrappingKey(s, password, salt, Number(opsLimit), Number(memLimit));
    try {
      return s.crypto_secretbox_open_easy(wrapped.subarray(24), wrapped.subarray(0, 24), key);
    } catch (e) {
      throw keyringError("wrong_password", "the password does not open this key");
    } finally {
      s.memzero(key);
    }
  }

  async function newKeyPair() {
    var s = await ready();
    return s.crypto_box_keypair();
  }

  async function sealTo(message, publicKeyB64) {
    var s = await ready();
    return toB64(s.crypto_box_seal(message, fromB64(publicKeyB64)));
  }

  window.RefugeKeys = {
    ready: ready,
    toB64: toB64,
    fromB64: fromB64,
    wrapSecret: wrapSecret,
    unwrapSecret: unwrapSecret,
    newKeyPair: newKeyPair,
    sealTo: sealTo,
  };

  // --- storage ----------------------------------------------------------------------------------

  function load() {
    try {
      var raw = window.sessionStorage.getItem(STORE);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  }

  function idleMs() {
    var minutes = settings ? Number(settings.dataset.idleMinutes) : 15;
    return (minutes > 0 ? minutes : 15) * 60 * 1000;
  }

  function touch() {
    try {
      window.sessionStorage.setItem(ACTIVITY, String(Date.now()));
    } catch (e) {
      /* storage full or disabled: the keyring simply will not persist */
    }
  }

  function lastActivity() {
    var value = Number(window.sessionStorage.getItem(ACTIVITY));
    return value > 0 ? value : 0;
  }

  function notify(unlocked) {
    listeners.slice().forEach(function (callback) {
      try {
        callback(unlocked);
      } catch (e) {
        /* one broken listener must not stop the others */
      }
    });
  }

  // --- the contract -----------------------------------------------------------------------------

  function isUnlocked() {
    return load() !== null;
  }

  function lock() {
    var was = isUnlocked();
    window.sessionStorage.removeItem(STORE);
    window.sessionStorage.removeItem(ACTIVITY);
    if (was) {
      notify(false);
    }
  }

  async function unlock(password) {
    if (typeof password !== "string" || !password) {
      throw keyringError("wrong_password", "no password");
    }
    var s = await ready();
    var url = settings && settings.dataset.keyringUrl ? settings.dataset.keyringUrl : "/auth/keyring";
    var response;
    try {
      response = await fetch(url, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
    } catch (e) {
      throw keyringError("network", "the keyring could not be fetched");
    }
    var type = response.headers.get("Content-Type") || "";
    if (!response.ok || response.redirected || type.indexOf("application/json") === -1) {
      throw keyringError("network", "the keyring could not be fetched");
    }
    var data = await response.json();
    if (!data.wrapped_secret_key || !data.user_public_key || !data.key_salt) {
      throw keyringError("no_keys", "this account has no keys yet");
    }
    var secret = await unwrapSecret(
      data.wrapped_secret_key, data.key_salt, password, data.ops_limit, data.mem_limit
    );
    var publicKey = fromB64(data.user_public_key);
    if (!equalBytes(s.crypto_scalarmult_base(secret), publicKey)) {
      s.memzero(secret);
      throw keyringError("invalid", "the unwrapped key does not match the public key");
    }
    var orgKeys = {};
    (data.grants || []).forEach(function (grant) {
      try {
        var orgSecret = s.crypto_box_seal_open(fromB64(grant.sealed_org_secret), publicKey, secret);
        var orgPublic = s.crypto_scalarmult_base(orgSecret);
        if (toB64(orgPublic) !== grant.org_public_key) {
          return; // a grant that does not match its key is ignored, never trusted
        }
        orgKeys[String(grant.org_key_id)] = { publicKey: toB64(orgPublic), privateKey: toB64(orgSecret) };
      } catch (e) {
        /* a grant sealed to an older key of ours cannot be opened: skip it */
      }
    });
    var state = {
      user: settings ? settings.dataset.user : null,
      userPublicKey: data.user_public_key,
      userSecretKey: toB64(secret),
      orgKeys: orgKeys,
      current: typeof data.current_org_key_id === "number" ? data.current_org_key_id : null,
      unlockedAt: Date.now(),
    };
    s.memzero(secret);
    window.sessionStorage.setItem(STORE, JSON.stringify(state));
    touch();
    notify(true);
  }

  async function orgKeyPair(orgKeyId) {
    var state = load();
    if (!state || !state.orgKeys) {
      return null;
    }
    var entry = state.orgKeys[String(orgKeyId)];
    if (!entry) {
      return null;
    }
    return { publicKey: fromB64(entry.publicKey), privateKey: fromB64(entry.privateKey) };
  }

  function currentOrgKeyId() {
    var state = load();
    if (!state || state.current === null || !state.orgKeys[String(state.current)]) {
      return null;
    }
    return state.current;
  }

  function onChange(callback) {
    if (typeof callback === "function") {
      listeners.push(callback);
    }
    return function () {
      listeners = listeners.filter(function (item) {
        return item !== callback;
      });
    };
  }

  window.RefugeKeyring = Object.freeze({
    unlock: unlock,
    isUnlocked: isUnlocked,
    lock: lock,
    orgKeyPair: orgKeyPair,
    currentOrgKeyId: currentOrgKeyId,
    onChange: onChange,
  });

  // --- staying safe: wrong user, idle, sign-out -------------------------------------------------

  (function checkOnLoad() {
    var state = load();
    if (!state) {
      return;
    }
    if (!settings || state.user !== settings.dataset.user) {
      lock(); // not signed in, or someone else signed in in this tab
    } else if (Date.now() - lastActivity() > idleMs()) {
      lock();
    }
  })();

  var lastWrite = 0;
  function activity() {
    var now = Date.now();
    if (now - lastWrite > 5000 && isUnlocked()) {
      lastWrite = now;
      touch();
    }
  }
  ["keydown", "pointerdown", "scroll", "mousemove", "touchstart"].forEach(function (name) {
    document.addEventListener(name, activity, { passive: true, capture: true });
  });
  window.setInterval(function () {
    if (isUnlocked() && Date.now() - lastActivity() > idleMs()) {
      lock();
    }
  }, 10000);

  // --- the lock state in the header and unlock forms --------------------------------------------

  function text(name, fallback) {
    return settings && settings.dataset[name] ? settings.dataset[name] : fallback;
  }

  function renderState() {
    var unlocked = isUnlocked();
    document.querySelectorAll("[data-lock-status]").forEach(function (node) {
      node.textContent = unlocked ? text("textUnlocked", "Keys unlocked") : text("textLocked", "Keys locked");
    });
    document.querySelectorAll("[data-lock-button]").forEach(function (node) {
      node.hidden = !unlocked;
    });
    document.querySelectorAll("[data-unlock-panel]").forEach(function (node) {
      node.hidden = unlocked;
      if (unlocked) {
        node.open = false;
      }
    });
    if (settings) {
      settings.classList.toggle("is-unlocked", unlocked);
    }
  }

  function errorMessage(error) {
    var code = error && error.code;
    if (code === "wrong_password") {
      return text("textWrongPassword", "That password does not open your keys.");
    }
    if (code === "no_keys") {
      return text("textNoKeys", "Your account has no keys yet.");
    }
    return text("textFailed", "Could not unlock. Reload the page and try again.");
  }

  function wireUnlockForm(form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var input = form.querySelector("input[type=password]");
      var errorNode = form.querySelector("[data-unlock-error]");
      var button = form.querySelector("button[type=submit]");
      if (errorNode) {
        errorNode.hidden = true;
      }
      if (button) {
        button.disabled = true;
      }
      document.querySelectorAll("[data-lock-status]").forEach(function (node) {
        node.textContent = text("textWorking", "Unlocking…");
      });
      // Let the page paint "Unlocking…" before Argon2id takes the main thread.
      await new Promise(function (resolve) {
        window.setTimeout(resolve, 30);
      });
      try {
        await unlock(input ? input.value : "");
        if (input) {
          input.value = "";
        }
        var next = form.dataset.next;
        if (next && next.charAt(0) === "/" && next.charAt(1) !== "/") {
          window.location.assign(next);
        }
      } catch (error) {
        if (errorNode) {
          errorNode.textContent = errorMessage(error);
          errorNode.hidden = false;
        }
        renderState();
        if (input) {
          input.focus();
        }
      } finally {
        if (button) {
          button.disabled = false;
        }
      }
    });
  }

  function wire() {
    document.querySelectorAll("form[data-unlock-form]").forEach(wireUnlockForm);
    document.querySelectorAll("[data-lock-button]").forEach(function (button) {
      button.addEventListener("click", function () {
        lock();
      });
    });
    // Signing out (here or everywhere) forgets the keys in this tab first.
    document.querySelectorAll("form").forEach(function (form) {
      var action = form.getAttribute("action") || "";
      if (/\/logout$|\/auth\/logout-everywhere$/.test(action)) {
        form.addEventListener("submit", lock);
      }
    });
    onChange(renderState);
    renderState();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
