/* Refuge keyring: a staff member's keys, unlocked in this browser tab only (DESIGN §1.3, §3).
 *
 * The password, split in two (DESIGN §3): master = crypto_pwhash(32, password, salt, ops, mem,
 * ALG_ARGON2ID13) with the account's salt; then crypto_kdf_derive_from_key(32, 1, context,
 * master) with context "Rfg-wrap" gives the key-wrapping key (never leaves this browser) and
 * with "Rfg-auth" the authentication secret (all the server receives at sign-in, enrolment
 * and password change; it keeps an Argon2id hash of it). intake/crypto.py derives the same.
 *
 * window.RefugeKeyring (the contract other pages code against):
 *   unlock(password) -> Promise<void>
 *       GET /auth/keyring -> {user_public_key, wrapped_secret_key, key_salt, ops_limit,
 *       mem_limit, key_scheme, current_org_key_id,
 *       grants: [{org_key_id, org_public_key, sealed_org_secret}]}
 *       staff secret = crypto_secretbox_open_easy(wrapped[24:], wrapped[:24], wrapping key);
 *       a key of scheme 1 (wrapped with the master itself, from before the split) is opened
 *       with the master and re-wrapped here (POST /auth/keyring/rewrap);
 *       each org secret = crypto_box_seal_open(sealed, staff public, staff secret).
 *       Rejects with an Error whose .code is "wrong_password", "no_keys", "network" or
 *       "invalid". The organisation keys are kept in this tab's sessionStorage only encrypted
 *       (crypto_secretbox) under this sign-in's tab key, which the server hands out
 *       (GET /auth/keyring/tab-key) only while the session lasts; see "storage" below.
 *   isUnlocked() -> boolean     this tab holds an (encrypted) keyring of this session
 *   lock()                       forget every key in this tab
 *   orgKeyPair(orgKeyId) -> Promise<{publicKey: Uint8Array, privateKey: Uint8Array} | null>
 *       asks the server for the tab key the first time on a page, then uses a copy kept in
 *       memory for this page's lifetime; null (and locked) once the session has ended
 *       A key this tab does not hold makes it fetch the keyring once (refresh) first: grants
 *       made after the unlock reach an open tab without a new unlock.
 *   refresh() -> Promise<boolean>  open grants made since the unlock (with the staff keypair,
 *       kept in the encrypted blob beside the organisation keys); true if a key was added
 *   currentOrgKeyId() -> number | null   the newest organisation key, if this tab holds it
 *   onChange(callback) -> unsubscribe function; callback(isUnlocked) after unlock and lock
 * The keyring locks itself after KEYRING_IDLE_MINUTES without activity in the tab, when the
 * user signs out, and when a different user signs in in the same tab.
 *
 * window.Refuge.keys: the primitives shared by setup.js, login.js and admin-grants.js.
 * Needs sealed.js and staff.js loaded before it (templates/auth/_sodium.html).
 */
(function () {
  "use strict";
  if (window.RefugeKeyring) {
    return; // loaded twice on one page: keep the first (its listeners are registered)
  }

  const sealed = window.Refuge.sealed;
  const staff = window.Refuge.staff;
  const STORE = staff.STORAGE.keyring;
  const ACTIVITY = staff.STORAGE.activity;
  let listeners = [];
  const settings = document.getElementById("lock-state");

  // --- primitives -----------------------------------------------------------------------------

  function keyringError(code, message) {
    const error = new Error(message || code);
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

  const toB64 = sealed.toBase64;

  function fromB64(text) {
    if (typeof text !== "string" || !text) {
      throw keyringError("invalid", "missing base64");
    }
    try {
      return sealed.fromBase64(text);
    } catch (e) {
      throw keyringError("invalid", "not base64");
    }
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) {
      return false;
    }
    let diff = 0;
    for (let i = 0; i < a.length; i += 1) {
      diff |= a[i] ^ b[i];
    }
    return diff === 0;
  }

  function deriveWrappingKey(s, password, salt, opsLimit, memLimit) {
    return s.crypto_pwhash(32, password, salt, opsLimit, memLimit, s.crypto_pwhash_ALG_ARGON2ID13);
  }

  const WRAP_CONTEXT = "Rfg-wrap";
  const AUTH_CONTEXT = "Rfg-auth";

  /* {wrappingKey: Uint8Array, authSecret: base64, master: Uint8Array} from the password and
   * the account's salt (base64). The caller wipes wrappingKey and master. */
  async function deriveLoginSecrets(password, saltB64, opsLimit, memLimit) {
    const s = await ready();
    const salt = fromB64(saltB64);
    if (salt.length !== s.crypto_pwhash_SALTBYTES) {
      throw keyringError("invalid", "the salt has the wrong length");
    }
    const master = deriveWrappingKey(s, password, salt, Number(opsLimit), Number(memLimit));
    const auth = s.crypto_kdf_derive_from_key(32, 1, AUTH_CONTEXT, master);
    const authSecret = toB64(auth);
    s.memzero(auth);
    return {
      master: master,
      wrappingKey: s.crypto_kdf_derive_from_key(32, 1, WRAP_CONTEXT, master),
      authSecret: authSecret,
    };
  }

  /* A new password: a new salt and the secrets derived with it. */
  async function newLoginSecrets(password, opsLimit, memLimit) {
    const s = await ready();
    const salt = toB64(s.randombytes_buf(s.crypto_pwhash_SALTBYTES));
    const secrets = await deriveLoginSecrets(password, salt, opsLimit, memLimit);
    s.memzero(secrets.master);
    return { salt: salt, wrappingKey: secrets.wrappingKey, authSecret: secrets.authSecret };
  }

  /* nonce[24] || crypto_secretbox_easy(secret, nonce, key), base64 ORIGINAL. */
  async function wrapWithKey(secret, key) {
    const s = await ready();
    const nonce = s.randombytes_buf(s.crypto_secretbox_NONCEBYTES);
    const box = s.crypto_secretbox_easy(secret, nonce, key);
    const wrapped = new Uint8Array(nonce.length + box.length);
    wrapped.set(nonce, 0);
    wrapped.set(box, nonce.length);
    return toB64(wrapped);
  }

  async function unwrapWithKey(wrappedB64, key) {
    const s = await ready();
    const wrapped = fromB64(wrappedB64);
    if (wrapped.length <= 24) {
      throw keyringError("invalid", "wrapped key has the wrong length");
    }
    try {
      return s.crypto_secretbox_open_easy(wrapped.subarray(24), wrapped.subarray(0, 24), key);
    } catch (e) {
      throw keyringError("wrong_password", "the password does not open this key");
    }
  }

  /* The staff secret key from /auth/keyring's answer and the password: {secret, secrets}
   * (the caller wipes both keys). A key of scheme 1 is re-wrapped on the server's copy. */
  async function openStaffSecret(data, password, rewrapUrl) {
    const s = await ready();
    const secrets = await deriveLoginSecrets(password, data.key_salt, data.ops_limit, data.mem_limit);
    let secret;
    try {
      if (Number(data.key_scheme) === 1) {
        secret = await unwrapWithKey(data.wrapped_secret_key, secrets.master);
        if (rewrapUrl) {
          const wrapped = await wrapWithKey(secret, secrets.wrappingKey);
          try {
            await staff.postFields(rewrapUrl, { auth_secret: secrets.authSecret, wrapped_secret_key: wrapped });
          } catch (e) {
            /* the old wrapping still opens it: the next unlock tries again */
          }
        }
      } else {
        secret = await unwrapWithKey(data.wrapped_secret_key, secrets.wrappingKey);
      }
    } finally {
      s.memzero(secrets.master);
    }
    return { secret: secret, secrets: secrets };
  }

  /* POST /auth/salt: how this e-mail's password is derived {salt, ops_limit, mem_limit, upgrade}. */
  async function loginSalt(email, url) {
    try {
      return await staff.postFields(url || "/auth/salt", { email: email });
    } catch (e) {
      throw keyringError("network", "the salt could not be fetched");
    }
  }

  /* wrapped = nonce[24] || crypto_secretbox_easy(secret, nonce, key); base64 ORIGINAL. */
  async function wrapSecret(secret, password, opsLimit, memLimit) {
    const s = await ready();
    const salt = s.randombytes_buf(s.crypto_pwhash_SALTBYTES);
    const key = deriveWrappingKey(s, password, salt, Number(opsLimit), Number(memLimit));
    const nonce = s.randombytes_buf(s.crypto_secretbox_NONCEBYTES);
    const box = s.crypto_secretbox_easy(secret, nonce, key);
    s.memzero(key);
    const wrapped = new Uint8Array(nonce.length + box.length);
    wrapped.set(nonce, 0);
    wrapped.set(box, nonce.length);
    return { wrapped: toB64(wrapped), salt: toB64(salt) };
  }

  async function unwrapSecret(wrappedB64, saltB64, password, opsLimit, memLimit) {
    const s = await ready();
    const wrapped = fromB64(wrappedB64);
    const salt = fromB64(saltB64);
    if (salt.length !== s.crypto_pwhash_SALTBYTES || wrapped.length <= 24) {
      throw keyringError("invalid", "wrapped key has the wrong length");
    }
    const key = deriveWrappingKey(s, password, salt, Number(opsLimit), Number(memLimit));
    try {
      return s.crypto_secretbox_open_easy(wrapped.subarray(24), wrapped.subarray(0, 24), key);
    } catch (e) {
      throw keyringError("wrong_password", "the password does not open this key");
    } finally {
      s.memzero(key);
    }
  }

  async function newKeyPair() {
    const s = await ready();
    return s.crypto_box_keypair();
  }

  async function sealTo(message, publicKeyB64) {
    await ready();
    return sealed.sealBytes(message, fromB64(publicKeyB64));
  }

  // --- the wrapping key carried from the sign-in page ---------------------------------------------
  //
  // The password typed at /login also unlocks the keys once the second factor is passed (so it is
  // typed once per sign-in): login.js keeps the key-wrapping key it derived, and nothing else of
  // the password (never the password, never the authentication secret), in this tab's
  // sessionStorage as {v: 1, key, salt, ops, mem, at}; the unlock page the sign-in lands on
  // opens the staff key with it (unlockWithCarriedKey) and forgets it. It is never posted, never
  // in a URL, never in localStorage or a cookie. It is forgotten as soon as it is read, when it
  // is older than CARRY_MAX_MS (here on load, and by a timer on the pages in between), when the
  // sign-in page is shown again (login.js), on an error page that ends the sign-in (a 429, a
  // form expired) and on signing out.

  const CARRY = "refuge.login.wrapping-key.v1";
  const CARRY_MAX_MS = 5 * 60 * 1000; // as long as the server keeps a sign-in half done

  function forgetCarriedKey() {
    try {
      window.sessionStorage.removeItem(CARRY);
    } catch (e) {
      /* storage disabled: nothing was kept */
    }
  }

  /* Kept for the unlock page after the second factor; `how` is /auth/salt's answer (salt and
   * limits), to tell later whether the account's wrapped key is still the one this opens. */
  function carryWrappingKey(wrappingKey, how) {
    try {
      window.sessionStorage.setItem(
        CARRY,
        JSON.stringify({
          v: 1,
          key: toB64(wrappingKey),
          salt: String(how.salt),
          ops: Number(how.ops_limit),
          mem: Number(how.mem_limit),
          at: Date.now(),
        })
      );
    } catch (e) {
      forgetCarriedKey(); // storage full or disabled: the unlock page asks for the password
    }
  }

  function readCarried() {
    try {
      const raw = window.sessionStorage.getItem(CARRY);
      const carried = raw ? JSON.parse(raw) : null;
      const age = carried ? Date.now() - Number(carried.at) : -1;
      if (!carried || carried.v !== 1 || typeof carried.key !== "string" || !(age >= 0 && age < CARRY_MAX_MS)) {
        return null;
      }
      return carried;
    } catch (e) {
      return null;
    }
  }

  /* The carried key, forgotten from storage before anything is done with it: used once, or
   * not at all. {key: Uint8Array (the caller wipes it), salt, ops, mem} or null. Decoded only
   * once libsodium is ready: a page whose scripts come from the cache runs this before it is,
   * and the key read then was lost (the password was asked for again). */
  async function takeCarried() {
    const carried = readCarried();
    forgetCarriedKey();
    if (!carried) {
      return null;
    }
    try {
      await ready();
      return { key: fromB64(carried.key), salt: carried.salt, ops: carried.ops, mem: carried.mem };
    } catch (e) {
      return null;
    }
  }

  /* On a page between /login and the unlock page (the code page, the recovery codes of a
   * resumed enrolment): forget an expired key now, a live one the moment it expires. */
  function expireCarried() {
    const carried = readCarried();
    if (!carried) {
      forgetCarriedKey();
      return;
    }
    window.setTimeout(
      function () {
        const still = readCarried();
        if (!still || still.at === carried.at) {
          forgetCarriedKey();
        }
      },
      Math.max(0, CARRY_MAX_MS - (Date.now() - Number(carried.at)))
    );
  }

  window.Refuge.keys = Object.freeze({
    ready: ready,
    toB64: toB64,
    fromB64: fromB64,
    wrapSecret: wrapSecret,
    unwrapSecret: unwrapSecret,
    newKeyPair: newKeyPair,
    sealTo: sealTo,
    deriveLoginSecrets: deriveLoginSecrets,
    newLoginSecrets: newLoginSecrets,
    wrapWithKey: wrapWithKey,
    unwrapWithKey: unwrapWithKey,
    openStaffSecret: openStaffSecret,
    loginSalt: loginSalt,
    carryWrappingKey: carryWrappingKey,
    forgetCarriedKey: forgetCarriedKey,
  });

  // --- storage ----------------------------------------------------------------------------------
  //
  // Browsers write sessionStorage to the profile on disk (session restore), so raw keys must
  // never go there. What is stored is only:
  //   {v: 2, user, session, current, keyIds, nonce, box}
  // where box = crypto_secretbox_easy(JSON {orgKeys: {id: {publicKey, privateKey}},
  // staff: {publicKey, privateKey}}, nonce, tab key). The tab key (32 bytes) is held by the server for this sign-in only
  // (GET /auth/keyring/tab-key) and wiped when the session ends (sign-out, time-out, password
  // change...): after that the blob on disk cannot be opened. Opened keys are cached in a
  // variable for the lifetime of this page only.

  function load() {
    try {
      const raw = window.sessionStorage.getItem(STORE);
      const state = raw ? JSON.parse(raw) : null;
      return state && state.v === 2 && typeof state.box === "string" ? state : null;
    } catch (e) {
      return null;
    }
  }

  function save(state) {
    window.sessionStorage.setItem(STORE, JSON.stringify(state));
  }

  // {box: the blob it was opened from, orgKeys: {id: {publicKey, privateKey}}, staff: the staff
  // keypair (opens grants made after the unlock), tabKey: to write the blob again}
  let cache = null;
  let opening = null; // the one fetch-and-open in flight, shared by concurrent callers

  function forgetCache() {
    if (cache && window.sodium) {
      [cache.staff && cache.staff.privateKey, cache.tabKey].forEach(function (bytes) {
        if (bytes) {
          window.sodium.memzero(bytes);
        }
      });
      Object.keys(cache.orgKeys).forEach(function (id) {
        try {
          window.sodium.memzero(cache.orgKeys[id].privateKey);
        } catch (e) {
          /* already gone */
        }
      });
    }
    cache = null;
  }

  function tabKeyUrl() {
    return settings && settings.dataset.tabKeyUrl ? settings.dataset.tabKeyUrl : "/auth/keyring/tab-key";
  }

  /* This session's tab key from the server. Rejects with .code "expired" when the server says
   * the session is over (the blob can never be opened again), "network" otherwise. */
  async function fetchTabKey(sessionId) {
    let response;
    try {
      response = await fetch(tabKeyUrl(), {
        credentials: "same-origin",
        cache: "no-store",
        redirect: "follow",
        headers: { Accept: "application/json", "X-Refuge-Keyring": "1" },
      });
    } catch (e) {
      throw keyringError("network", "the tab key could not be fetched");
    }
    const type = response.headers.get("Content-Type") || "";
    if (response.status === 401 || response.status === 403 || response.redirected) {
      throw keyringError("expired", "this session is over");
    }
    if (!response.ok || type.indexOf("application/json") === -1) {
      throw keyringError("network", "the tab key could not be fetched");
    }
    const data = await response.json();
    if (String(data.session) !== String(sessionId)) {
      throw keyringError("expired", "the keyring belongs to another session");
    }
    const key = fromB64(data.tab_key);
    if (key.length !== 32) {
      throw keyringError("invalid", "the tab key has the wrong length");
    }
    return key;
  }

  async function openStored() {
    const state = load();
    if (!state) {
      forgetCache();
      return null;
    }
    if (cache && cache.box === state.box) {
      return cache.orgKeys;
    }
    const s = await ready();
    let tabKey;
    try {
      tabKey = await fetchTabKey(state.session);
    } catch (error) {
      if (error.code === "expired" || error.code === "invalid") {
        lock();
      }
      return null;
    }
    let plain = null;
    try {
      plain = s.crypto_secretbox_open_easy(fromB64(state.box), fromB64(state.nonce), tabKey);
      const parsed = JSON.parse(new TextDecoder("utf-8").decode(plain));
      const orgKeys = {};
      Object.keys(parsed.orgKeys || {}).forEach(function (id) {
        orgKeys[id] = {
          publicKey: fromB64(parsed.orgKeys[id].publicKey),
          privateKey: fromB64(parsed.orgKeys[id].privateKey),
        };
      });
      const staffKey = parsed.staff
        ? { publicKey: fromB64(parsed.staff.publicKey), privateKey: fromB64(parsed.staff.privateKey) }
        : null;
      if (load() === null || load().box !== state.box) {
        return null; // locked (or unlocked again) while we were asking the server
      }
      forgetCache();
      cache = { box: state.box, orgKeys: orgKeys, staff: staffKey, tabKey: new Uint8Array(tabKey) };
      return orgKeys;
    } catch (e) {
      lock(); // not this session's key: nothing here can open the blob any more
      return null;
    } finally {
      s.memzero(tabKey);
      if (plain) {
        s.memzero(plain);
      }
    }
  }

  function opened() {
    if (!opening) {
      opening = openStored().finally(function () {
        opening = null;
      });
    }
    return opening;
  }

  function idleMs() {
    const minutes = settings ? Number(settings.dataset.idleMinutes) : 15;
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
    const value = Number(window.sessionStorage.getItem(ACTIVITY));
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

  /* True while this tab holds an encrypted keyring of this session (it is opened on demand). */
  function isUnlocked() {
    return load() !== null;
  }

  function lock() {
    const was = isUnlocked() || cache !== null;
    forgetCache();
    staff.forgetStoredKeyring();
    if (was) {
      notify(false);
    }
  }

  async function unlock(password) {
    if (typeof password !== "string" || !password) {
      throw keyringError("wrong_password", "no password");
    }
    await unlockWith(async function (data) {
      const rewrapUrl = settings && settings.dataset.rewrapUrl ? settings.dataset.rewrapUrl : "/auth/keyring/rewrap";
      const unwrapped = await openStaffSecret(data, password, rewrapUrl);
      (await ready()).memzero(unwrapped.secrets.wrappingKey);
      return unwrapped.secret;
    });
  }

  /* The same unlock with the wrapping key carried from /login (takeCarried), which the caller
   * wipes. Only a key of scheme 2 wrapped under this very salt and limits is tried: anything
   * else (a key of scheme 1, a password changed meanwhile) is "wrong_password", and the unlock
   * page asks for the password as before. */
  function unlockWithCarriedKey(carried) {
    return unlockWith(async function (data) {
      if (
        Number(data.key_scheme) === 1 ||
        data.key_salt !== carried.salt ||
        Number(data.ops_limit) !== carried.ops ||
        Number(data.mem_limit) !== carried.mem
      ) {
        throw keyringError("wrong_password", "the key is not wrapped with this sign-in's password");
      }
      return unwrapWithKey(data.wrapped_secret_key, carried.key);
    });
  }

  /* Fetch the keyring, open the staff secret with openSecret(data) (a Uint8Array this function
   * wipes or keeps in the box), check it against the public key, open the grants, store. */
  async function unlockWith(openSecret) {
    const s = await ready();
    const sessionId = settings ? settings.dataset.session : "";
    if (!sessionId) {
      throw keyringError("network", "not signed in");
    }
    const url = settings && settings.dataset.keyringUrl ? settings.dataset.keyringUrl : "/auth/keyring";
    let data;
    try {
      data = await staff.fetchJson(url);
    } catch (e) {
      throw keyringError("network", "the keyring could not be fetched");
    }
    if (!data.wrapped_secret_key || !data.user_public_key || !data.key_salt) {
      throw keyringError("no_keys", "this account has no keys yet");
    }
    const secret = await openSecret(data);
    const publicKey = fromB64(data.user_public_key);
    if (!equalBytes(s.crypto_scalarmult_base(secret), publicKey)) {
      s.memzero(secret);
      throw keyringError("invalid", "the unwrapped key does not match the public key");
    }
    const orgKeys = {};
    (data.grants || []).forEach(function (grant) {
      try {
        const orgSecret = s.crypto_box_seal_open(fromB64(grant.sealed_org_secret), publicKey, secret);
        const orgPublic = s.crypto_scalarmult_base(orgSecret);
        if (toB64(orgPublic) !== grant.org_public_key) {
          return; // a grant that does not match its key is ignored, never trusted
        }
        orgKeys[String(grant.org_key_id)] = { publicKey: orgPublic, privateKey: orgSecret };
      } catch (e) {
        /* a grant sealed to an older key of ours cannot be opened: skip it */
      }
    });
    // The staff key is kept in the box too, so that grants made after this unlock (a colleague's
    // grant, a rotation, the recovery kit) can be opened in this tab without the password.
    let tabKey;
    try {
      tabKey = await fetchTabKey(sessionId);
    } catch (error) {
      Object.keys(orgKeys).forEach(function (id) {
        s.memzero(orgKeys[id].privateKey);
      });
      s.memzero(secret);
      throw error.code === "expired" ? keyringError("network", "signed out") : error;
    }
    const staffKey = { publicKey: publicKey, privateKey: secret };
    const state = sealState(s, orgKeys, staffKey, tabKey, {
      v: 2,
      user: settings ? settings.dataset.user : null,
      session: sessionId,
      current: typeof data.current_org_key_id === "number" ? data.current_org_key_id : null,
      unlockedAt: Date.now(),
    });
    forgetCache();
    save(state);
    cache = { box: state.box, orgKeys: orgKeys, staff: staffKey, tabKey: tabKey };
    touch();
    notify(true);
  }

  /* The stored state: `fields` plus keyIds and the box of the keys under the tab key. */
  function sealState(s, orgKeys, staffKey, tabKey, fields) {
    const plainKeys = {};
    Object.keys(orgKeys).forEach(function (id) {
      plainKeys[id] = { publicKey: toB64(orgKeys[id].publicKey), privateKey: toB64(orgKeys[id].privateKey) };
    });
    const plain = new TextEncoder().encode(
      JSON.stringify({
        orgKeys: plainKeys,
        staff: { publicKey: toB64(staffKey.publicKey), privateKey: toB64(staffKey.privateKey) },
      })
    );
    const nonce = s.randombytes_buf(s.crypto_secretbox_NONCEBYTES);
    const box = s.crypto_secretbox_easy(plain, nonce, tabKey);
    s.memzero(plain);
    return Object.assign({}, fields, { keyIds: Object.keys(orgKeys), nonce: toB64(nonce), box: toB64(box) });
  }

  /* Grants made since the unlock (a colleague granted us the key, a rotation, the recovery
   * kit): fetch the keyring again and open the new ones with the staff key kept in the box.
   * Resolves true when the tab holds a key it did not hold before. */
  let refreshing = null;
  async function refreshNow() {
    const state = load();
    if (!state) {
      return false;
    }
    const orgKeys = await opened();
    if (!orgKeys || !cache || !cache.staff || !cache.tabKey) {
      return false;
    }
    const s = await ready();
    const url = settings && settings.dataset.keyringUrl ? settings.dataset.keyringUrl : "/auth/keyring";
    let data;
    try {
      data = await staff.fetchJson(url);
    } catch (e) {
      return false;
    }
    if (!data.user_public_key || data.user_public_key !== toB64(cache.staff.publicKey)) {
      return false; // our keypair changed (password reset): only a new unlock can help
    }
    let added = 0;
    (data.grants || []).forEach(function (grant) {
      const id = String(grant.org_key_id);
      if (orgKeys[id]) {
        return;
      }
      try {
        const orgSecret = s.crypto_box_seal_open(fromB64(grant.sealed_org_secret), cache.staff.publicKey, cache.staff.privateKey);
        const orgPublic = s.crypto_scalarmult_base(orgSecret);
        if (toB64(orgPublic) !== grant.org_public_key) {
          return;
        }
        orgKeys[id] = { publicKey: orgPublic, privateKey: orgSecret };
        added += 1;
      } catch (e) {
        /* sealed to an older key of ours: skip it */
      }
    });
    const latest = load();
    if (!latest || latest.box !== state.box) {
      return false; // locked or unlocked again meanwhile
    }
    const next = sealState(s, orgKeys, cache.staff, cache.tabKey, {
      v: 2,
      user: state.user,
      session: state.session,
      current: typeof data.current_org_key_id === "number" ? data.current_org_key_id : state.current,
      unlockedAt: state.unlockedAt,
    });
    save(next);
    cache.box = next.box;
    if (added) {
      notify(true);
    }
    return added > 0;
  }

  /* Unlocked with no organisation key ("no access to cases yet"): a grant may have come since
   * (an admin in another browser), and only a page with a case to open asked for it, so the
   * header kept saying so on every other page. Asked once as a page loads, at most once a
   * minute in this tab: each fetch of the keyring is audited. */
  const GRANTS_ASKED = "refuge.keyring.grants-asked";
  const GRANTS_ASK_MS = 60000;
  function askForGrantsIfNone(signedIn) {
    const state = load();
    if (!signedIn || !state || !Array.isArray(state.keyIds) || state.keyIds.length !== 0) {
      return;
    }
    let last = 0;
    try {
      last = Number(sessionStorage.getItem(GRANTS_ASKED)) || 0;
      if (Date.now() - last < GRANTS_ASK_MS) {
        return;
      }
      sessionStorage.setItem(GRANTS_ASKED, String(Date.now()));
    } catch (e) {
      return; // storage blocked: a page with a case still asks
    }
    refresh().catch(function () {});
  }

  function refresh() {
    if (!refreshing) {
      refreshing = refreshNow().finally(function () {
        refreshing = null;
      });
    }
    return refreshing;
  }

  // Keys still missing after a refresh are not asked for again at once: a page of many cases
  // sealed to a key we do not hold must not fetch the keyring for each of them.
  const missingSince = {};
  const MISSING_RETRY_MS = 15000;

  async function orgKeyPair(orgKeyId) {
    let state = load();
    if (!state) {
      return null;
    }
    const id = String(orgKeyId);
    if ((state.keyIds || []).indexOf(id) === -1) {
      // Sealed to a key we lack: perhaps granted since the unlock. Ask once, then give up.
      if (missingSince[id] && Date.now() - missingSince[id] < MISSING_RETRY_MS) {
        return null;
      }
      await refresh();
      state = load();
      if (!state || (state.keyIds || []).indexOf(id) === -1) {
        missingSince[id] = Date.now();
        return null;
      }
    }
    const orgKeys = await opened();
    const entry = orgKeys ? orgKeys[String(orgKeyId)] : null;
    if (!entry) {
      return null;
    }
    // Copies: a caller that wipes its pair must not wipe this page's cache.
    return { publicKey: new Uint8Array(entry.publicKey), privateKey: new Uint8Array(entry.privateKey) };
  }

  function currentOrgKeyId() {
    const state = load();
    if (!state || state.current === null || (state.keyIds || []).indexOf(String(state.current)) === -1) {
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
    refresh: refresh,
  });

  // --- staying safe: wrong user, idle, sign-out -------------------------------------------------

  (function checkOnLoad() {
    // The raw keys an older version of this file kept here must not stay on disk.
    window.sessionStorage.removeItem(staff.STORAGE.retired);
    const raw = window.sessionStorage.getItem(STORE);
    const state = load();
    if (!state) {
      if (raw !== null) {
        lock(); // unreadable or of another format
      }
      return;
    }
    if (!settings || state.user !== settings.dataset.user || state.session !== settings.dataset.session) {
      lock(); // not signed in, someone else signed in in this tab, or a new sign-in
    } else if (Date.now() - lastActivity() > idleMs()) {
      lock();
    }
  })();

  let lastWrite = 0;
  function activity() {
    const now = Date.now();
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
    const state = load();
    const unlocked = state !== null;
    // Unlocked, yet holding no organisation key (no grant yet): "Keys unlocked" alone would
    // promise cases this colleague cannot read. (keyIds: the ids in the box, kept beside it.)
    const noCaseKey = unlocked && Array.isArray(state.keyIds) && state.keyIds.length === 0;
    let status = text("textLocked", "Keys locked");
    if (noCaseKey) {
      status = text("textNoCaseKey", "Keys unlocked, but no access to cases yet");
    } else if (unlocked) {
      status = text("textUnlocked", "Keys unlocked");
    }
    document.querySelectorAll("[data-lock-status]").forEach(function (node) {
      node.textContent = status;
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
      settings.classList.toggle("has-no-case-key", noCaseKey);
    }
  }

  function errorMessage(error) {
    const code = error && error.code;
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
      const input = form.querySelector("input[type=password]");
      const errorNode = form.querySelector("[data-unlock-error]");
      const button = form.querySelector("button[type=submit]");
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
      await staff.afterPaint();
      try {
        await unlock(input ? input.value : "");
        if (input) {
          input.value = "";
        }
        const next = form.dataset.next;
        if (isLocalPath(next)) {
          window.location.assign(next);
        } else {
          focusInLockState(form, "[data-lock-button]");
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

  function isLocalPath(next) {
    return Boolean(next) && next.charAt(0) === "/" && next.charAt(1) !== "/";
  }

  /* The unlock page a sign-in lands on (its form has data-next) opens the keys with the wrapping
   * key carried from /login, then goes on to where the sign-in was heading; after a sign-in with
   * a recovery code it stays, for what its notice says, unlocked. Whatever fails (no carried
   * key, a key of scheme 1, a password changed meanwhile, another account's key) leaves the
   * page as it always was: the password is asked for once more. */
  async function unlockFromSignIn(form) {
    const carried = await takeCarried();
    if (!carried) {
      return;
    }
    const button = form.querySelector("button[type=submit]");
    form.setAttribute("aria-busy", "true"); // until the next page, or the password is asked for
    if (button) {
      button.disabled = true;
    }
    document.querySelectorAll("[data-lock-status]").forEach(function (node) {
      node.textContent = text("textWorking", "Unlocking…");
    });
    let unlocked = false;
    try {
      if (!isUnlocked()) {
        await unlockWithCarriedKey(carried);
        unlocked = true;
      }
    } catch (error) {
      /* said nowhere: the page asks for the password, as it did before */
    } finally {
      if (window.sodium) {
        window.sodium.memzero(carried.key);
      }
    }
    if (unlocked && isLocalPath(form.dataset.next) && !document.querySelector("[data-recovery-code-used]")) {
      window.location.replace(form.dataset.next);
      return;
    }
    form.removeAttribute("aria-busy");
    if (button) {
      button.disabled = false;
    }
    renderState();
    if (unlocked) {
      showUnlocked(form);
    }
  }

  /* The unlock page, unlocked where it stands: no password box, a way on, and a heading that
   * says so ("Unlock your keys" above no password box puzzled; the recovery-code notice stays). */
  function showUnlocked(form) {
    form.setAttribute("data-unlocked", "");
    const heading = document.querySelector("[data-unlock-heading]");
    if (heading && heading.dataset.textUnlocked) {
      heading.textContent = heading.dataset.textUnlocked;
    }
    form.querySelectorAll("label, input[type=password], button[type=submit], [data-unlock-error]").forEach(function (node) {
      node.hidden = true;
    });
    document.querySelectorAll("[data-unlock-intro]").forEach(function (node) {
      node.hidden = true;
    });
    const onward = form.querySelector("a[href]");
    if (onward && form.dataset.textContinue) {
      onward.textContent = form.dataset.textContinue;
    }
  }

  // The header's control that takes over from the one just used, which is hidden now: the
  // keyboard's place was lost to the page's start on locking and unlocking (a review).
  function focusInLockState(from, selector) {
    const state = from.closest(".lock-state");
    const target = state && state.querySelector(selector);
    if (target) {
      renderState();
      target.focus();
    }
  }

  // The header's unlock panel lies over the page: it closes on Escape and when the focus
  // moves on, instead of covering the tabs the keyboard reached (a review at 1280 px).
  function wireUnlockPanel(panel) {
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && panel.open) {
        panel.open = false;
        panel.querySelector("summary").focus();
      }
    });
    panel.addEventListener("focusout", function (event) {
      // Only for a place outside it: a button disabled while unlocking drops the focus too.
      if (event.relatedTarget && !panel.contains(event.relatedTarget)) {
        panel.open = false;
      }
    });
  }

  function wire() {
    document.querySelectorAll("form[data-unlock-form]").forEach(wireUnlockForm);
    document.querySelectorAll("[data-unlock-panel]").forEach(wireUnlockPanel);
    document.querySelectorAll("[data-lock-button]").forEach(function (button) {
      button.addEventListener("click", function () {
        lock();
        focusInLockState(button, "[data-unlock-panel] summary");
      });
    });
    // Signing out (here or everywhere) forgets the keys in this tab first.
    document.querySelectorAll("form").forEach(function (form) {
      const action = form.getAttribute("action") || "";
      if (/\/logout$|\/auth\/logout-everywhere$/.test(action)) {
        form.addEventListener("submit", lock);
        form.addEventListener("submit", forgetCarriedKey);
      }
    });
    onChange(renderState);
    renderState();
    // The wrapping key carried from /login: used by the unlock page a sign-in lands on; dropped
    // there when the account has no keys; elsewhere kept only until it expires.
    // An error page on the sign-in paths (too many attempts, a form expired) ends the attempt:
    // forgotten there, as when the sign-in page shows again (templates/auth/_sign_in_ended.html).
    const unlockPage = document.querySelector("form[data-unlock-form][data-next]");
    const signedIn = Boolean(settings && settings.dataset.session);
    askForGrantsIfNone(signedIn);
    if (document.querySelector("[data-sign-in-ended]")) {
      forgetCarriedKey();
    } else if (signedIn && unlockPage) {
      unlockFromSignIn(unlockPage);
    } else if (signedIn && document.body.classList.contains("auth-unlock")) {
      forgetCarriedKey();
    } else {
      expireCarried();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
