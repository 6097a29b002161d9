/* Passkeys and security keys with the browser's own WebAuthn (navigator.credentials).
 *
 * - form[data-passkey-register] (account page): ask the server for creation options, create a
 *   credential, post it with its name.
 * - form[data-passkey-sign-in] (second step of sign-in): ask for request options, get an
 *   assertion, post it; the server answers where to go next.
 * The server's options and answers are JSON with binary fields in base64url (no padding).
 */
(function () {
  "use strict";

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    const binary = window.atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken(form) {
    const input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  async function fetchOptions(form) {
    const response = await fetch(form.dataset.optionsUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), Accept: "application/json" },
    });
    if (!response.ok) {
      throw new Error("options " + response.status);
    }
    return response.json();
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: fromBase64url(item.id), transports: item.transports };
    });
  }

  function creationOptions(options) {
    const publicKey = Object.assign({}, options, {
      challenge: fromBase64url(options.challenge),
      user: Object.assign({}, options.user, { id: fromBase64url(options.user.id) }),
      excludeCredentials: descriptors(options.excludeCredentials),
    });
    return { publicKey: publicKey };
  }

  function requestOptions(options) {
    const publicKey = Object.assign({}, options, {
      challenge: fromBase64url(options.challenge),
      allowCredentials: descriptors(options.allowCredentials),
    });
    return { publicKey: publicKey };
  }

  function credentialJson(credential) {
    const response = credential.response;
    const answer = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      answer.response.attestationObject = toBase64url(response.attestationObject);
      if (typeof response.getTransports === "function") {
        answer.response.transports = response.getTransports();
      }
    } else {
      answer.response.authenticatorData = toBase64url(response.authenticatorData);
      answer.response.signature = toBase64url(response.signature);
      if (response.userHandle) {
        answer.response.userHandle = toBase64url(response.userHandle);
      }
    }
    return JSON.stringify(answer);
  }

  async function post(form, fields) {
    const body = new FormData();
    body.append("csrf_token", csrfToken(form));
    Object.keys(fields).forEach(function (name) {
      body.append(name, fields[name]);
    });
    const response = await fetch(form.dataset.url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), Accept: "application/json" },
    });
    let answer = {};
    try {
      answer = await response.json();
    } catch (e) {
      answer = {};
    }
    return answer;
  }

  function wire(form, ceremony) {
    const status = form.querySelector("[data-passkey-status]");
    function say(text) {
      if (status) {
        status.textContent = text || "";
      }
    }
    form.hidden = !(window.PublicKeyCredential && navigator.credentials);
    const button = form.querySelector("button[type=submit]");
    // One ceremony at a time: a double click on "Add a passkey" saved two, one of them dead
    // (the authenticator kept only the newer credential for the account).
    let busy = false;
    function settle() {
      busy = false;
      if (button) {
        button.disabled = false;
      }
    }
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (busy) {
        return;
      }
      busy = true;
      if (button) {
        button.disabled = true;
      }
      say(form.dataset.textWorking);
      let answer;
      try {
        answer = await ceremony(form);
      } catch (error) {
        say(form.dataset.textFailed);
        settle();
        return;
      }
      if (answer && answer.redirect) {
        window.location.assign(answer.redirect);
        return;
      }
      say(answer && answer.error ? String(answer.error) : form.dataset.textFailed);
      settle();
    });
    // Back to the page from the browser's cache after a redirect: usable again.
    window.addEventListener("pageshow", settle);
  }

  async function register(form) {
    const options = await fetchOptions(form);
    const credential = await navigator.credentials.create(creationOptions(options));
    const name = form.querySelector("input[name=name]").value;
    return post(form, { name: name, credential: credentialJson(credential) });
  }

  async function signIn(form) {
    const options = await fetchOptions(form);
    const credential = await navigator.credentials.get(requestOptions(options));
    return post(form, { credential: credentialJson(credential) });
  }

  document.querySelectorAll("form[data-passkey-register]").forEach(function (form) {
    wire(form, register);
  });
  document.querySelectorAll("form[data-passkey-sign-in]").forEach(function (form) {
    wire(form, signIn);
  });
})();
