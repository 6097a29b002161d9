/* Refuge: search over sealed cases by keyed tokens (window.Refuge.search).
 *
 * The server never sees what a case says, so it cannot search it. A key holder's browser does:
 * it turns a case's words into keyed tokens and posts only those; a query is turned into tokens
 * the same way, and the server answers "which cases hold all of these tokens"
 * (intake/services/search.py). What this reveals is in the README ("Search on encrypted cases").
 *
 * Tokens: the search key is crypto_kdf_derive_from_key(32, 1, "RfSearch", organisation secret
 * key); a token is the hex of crypto_generichash(16, term, search key) — keyed BLAKE2b, 32 hex
 * digits. Terms are taken from the text after normalising it (NFKC, so full-width letters and
 * digits become half-width; lower case; accents stripped; ß as ss; Traditional Chinese
 * characters as Simplified ones, by OpenCC's table in vendor/han-fold.js):
 *   "w:" + each word of letters or digits (two characters or more),
 *   "c:" + each CJK character (Han, kana, Hangul) and "b:" + each pair of neighbours in a run,
 *   "p:" + the digits of a phone-like number (four digits or more, spaces, dots, dashes,
 *          brackets and a leading + allowed) and of each of its endings of four digits or more
 *          (a query's number is taken without leading zeros, so a local "0912…" finds "+886 912…").
 * A query yields the same terms except: a CJK run of two characters or more gives its pairs
 * only, and a phone-like number gives one "p:" term (its digits), not its words. A case holds
 * at most MAX_TOKENS tokens: names and contact details are taken first.
 *
 * API (needs libsodium ready, staff.js, keyring.js and vendor/han-fold.js):
 *   indexCase(ref, answers[, options]) -> Promise<boolean>
 *       Tokenise a case's decrypted answers (the object the intake form sealed) and the texts
 *       of its searchable messages (options.texts: follow-ups and notes, decrypted; with
 *       options.through, the newest such message's id) and post the tokens to
 *       /cases/<ref>/search-tokens (options.url overrides; options.csrfToken, else
 *       the page's [data-csrf-token] attribute or input[name=csrf_token]). Resolves false when
 *       the keys are locked, the tab lacks the current organisation key, or the server refused.
 *       The case page calls it after it has opened a case; the queue for its unindexed rows.
 *   postTokens(ref, answers[, options]) -> Promise<number>
 *       The same, resolving to the HTTP status (0: locked, no current key, or not sent;
 *       options.signal aborts the request): search-backlog.js backs off on 429.
 *   messageTexts(bundle) -> Promise<{texts, through}>
 *       The decrypted texts of a sealed bundle's (/cases/<ref>/sealed) searchable messages,
 *       and the newest one's id (counted even when it could not be opened).
 *   isSearchable(kind) -> boolean   a message kind searched with the case
 *   queryTokens(text) -> Promise<{keyId, tokens} | null>   null: locked or nothing to search
 *   looksLikeReference(text) -> boolean   (the same rule as intake/cases/forms.py)
 *   indexTerms(text), queryTerms(text) -> string[]   the terms before keying (for tests)
 */
(function () {
  "use strict";

  const MAX_TOKENS = 6000; // intake.services.search.MAX_TOKENS
  // intake.services.search.SEARCHABLE_KINDS: what the submitter adds later, the staff's notes.
  const SEARCHABLE_KINDS = ["submitter_follow_up", "internal_note"];
  const MAX_QUERY_TOKENS = 64; // intake.cases.forms.MAX_QUERY_TOKENS
  const KDF_CONTEXT = "RfSearch";
  const KDF_SUBKEY_ID = 1;
  const TOKEN_BYTES = 16;
  const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
  const PHONE = /\+?\d[\d\s().-]*\d/g;
  const NOT_WORD = /[^\p{L}\p{N}]+/u;
  const REFERENCE = /^(RF[0-9A-Z\s-]{0,22}|(?=[0-9A-Z]*[0-9])(?=[0-9A-Z]*[A-Z])[0-9A-Z]{3,8})$/;

  const HAN = /\p{Script=Han}/gu;

  /* Traditional Chinese characters as Simplified ones (權 as 权, 裡 and 裏 as 里), so that a
   * case written in either is found by a query typed in either: vendor/han-fold.js, OpenCC's
   * character table, read once. Null when that script did not load: then nothing is keyed. */
  let hanFold = null;
  function hanFoldTable() {
    if (hanFold === null && typeof window.RefugeHanFold === "string") {
      hanFold = new Map(
        window.RefugeHanFold.split("|").map(function (pair) {
          return pair.split(" ");
        }),
      );
    }
    return hanFold;
  }

  function normalise(text) {
    const folded = String(text)
      .normalize("NFKC")
      .toLowerCase()
      .replace(/ß/g, "ss")
      .normalize("NFD")
      .replace(/\p{M}+/gu, "")
      .normalize("NFC");
    const fold = hanFoldTable();
    return fold
      ? folded.replace(HAN, function (ch) {
          return fold.get(ch) || ch;
        })
      : folded;
  }

  function looksLikeReference(text) {
    return REFERENCE.test(String(text).trim().toUpperCase());
  }

  function phoneDigits(text) {
    const found = [];
    (text.match(PHONE) || []).forEach(function (match) {
      const digits = match.replace(/\D/g, "");
      if (digits.length >= 4) {
        found.push(digits);
      }
    });
    return found;
  }

  function cjkTerms(text, pairsOnly) {
    const terms = [];
    (text.match(CJK_RUN) || []).forEach(function (run) {
      const chars = Array.from(run);
      if (!pairsOnly || chars.length === 1) {
        chars.forEach(function (ch) {
          terms.push("c:" + ch);
        });
      }
      for (let i = 0; i + 1 < chars.length; i += 1) {
        terms.push("b:" + chars[i] + chars[i + 1]);
      }
    });
    return terms;
  }

  function wordTerms(text) {
    return text
      .replace(CJK_RUN, " ")
      .split(NOT_WORD)
      .filter(function (word) {
        return Array.from(word).length >= 2;
      })
      .map(function (word) {
        return "w:" + word;
      });
  }

  function unique(terms) {
    return Array.from(new Set(terms));
  }

  /* The terms a case's text is indexed under. */
  function indexTerms(text) {
    const clean = normalise(text);
    const terms = [];
    phoneDigits(clean).forEach(function (digits) {
      terms.push("p:" + digits);
      for (let k = digits.length - 1; k >= 4; k -= 1) {
        terms.push("p:" + digits.slice(-k));
      }
    });
    return unique(terms.concat(cjkTerms(clean, false), wordTerms(clean)));
  }

  /* The terms a query must all match. */
  function queryTerms(text) {
    const clean = normalise(text);
    // Without its trunk zeros: "0912 345 678" finds "+886 912-345-678" (an ending of it).
    const phones = phoneDigits(clean).map(function (digits) {
      const national = digits.replace(/^0+/, "");
      return "p:" + (national.length >= 4 ? national : digits);
    });
    const rest = clean.replace(PHONE, function (match) {
      return match.replace(/\D/g, "").length >= 4 ? " " : match;
    });
    return unique(phones.concat(cjkTerms(rest, true), wordTerms(rest)));
  }

  /* The current organisation key's id and search key, or null (locked, or not held). */
  async function currentSearchKey() {
    if (!hanFoldTable()) {
      return null; // tokens without the folding would never match the others
    }
    const ring = window.Refuge.staff.keyring();
    if (!ring || !ring.isUnlocked()) {
      return null;
    }
    const keyId = ring.currentOrgKeyId();
    if (!keyId) {
      return null;
    }
    const pair = await window.Refuge.staff.orgKeyPair(keyId);
    if (!pair) {
      return null;
    }
    await sodium.ready;
    const key = sodium.crypto_kdf_derive_from_key(32, KDF_SUBKEY_ID, KDF_CONTEXT, pair.privateKey);
    return { keyId: Number(keyId), key: key };
  }

  function keyed(terms, key) {
    return terms.map(function (term) {
      return sodium.to_hex(sodium.crypto_generichash(TOKEN_BYTES, sodium.from_string(term), key));
    });
  }

  /* Every string in an answer value, names and contact details first. */
  function answerTexts(answers) {
    const first = [];
    const rest = [];
    function walk(value, key) {
      if (typeof value === "string") {
        (/name|contact|phone|residence|origin|where/.test(key) ? first : rest).push(value);
      } else if (Array.isArray(value)) {
        value.forEach(function (item) {
          walk(item, key);
        });
      } else if (value && typeof value === "object") {
        Object.keys(value).forEach(function (inner) {
          walk(value[inner], inner);
        });
      }
    }
    walk(answers, "");
    return first.concat(rest);
  }

  function csrfToken(options) {
    if (options && options.csrfToken) {
      return options.csrfToken;
    }
    const holder = document.querySelector("[data-csrf-token]");
    if (holder) {
      return holder.getAttribute("data-csrf-token");
    }
    const input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function isSearchable(kind) {
    return SEARCHABLE_KINDS.indexOf(kind) >= 0;
  }

  async function messageTexts(bundle) {
    const texts = [];
    let through = 0;
    const messages = (bundle && bundle.messages) || [];
    for (let i = 0; i < messages.length; i += 1) {
      const message = messages[i];
      if (!isSearchable(message.kind) || !message.sealed_body) {
        continue;
      }
      through = Math.max(through, Number(message.id) || 0);
      const pair = await window.Refuge.staff.orgKeyPair(message.org_key_id || bundle.org_key_id);
      try {
        const value = pair ? window.Refuge.sealed.openJson(message.sealed_body, pair) : null;
        if (value && typeof value.body === "string") {
          texts.push(value.body);
        }
      } catch (e) {
        // Not openable here: the case is indexed with what could be read.
      }
    }
    return { texts: texts, through: through };
  }

  /* The HTTP status of posting the case's tokens; 0 when the keys are locked, the tab lacks the
   * current organisation key or the request did not get through (options.signal aborts it). */
  async function postTokens(ref, answers, options) {
    const search = await currentSearchKey();
    if (!search) {
      return 0;
    }
    let terms = [];
    const texts = answerTexts(answers).concat((options && options.texts) || []);
    texts.forEach(function (text) {
      terms = terms.concat(indexTerms(text));
    });
    terms = unique(terms).slice(0, MAX_TOKENS);
    const body = new URLSearchParams();
    body.set("csrf_token", csrfToken(options));
    body.set("org_key_id", String(search.keyId));
    body.set("through", String(Number((options && options.through) || 0)));
    body.set("tokens", keyed(terms, search.key).join(" "));
    const url = (options && options.url) || "/cases/" + encodeURIComponent(ref) + "/search-tokens";
    try {
      const response = await fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: options && options.signal,
      });
      return response.status;
    } catch (e) {
      return 0;
    }
  }

  async function indexCase(ref, answers, options) {
    const status = await postTokens(ref, answers, options);
    return status >= 200 && status < 300;
  }

  async function queryTokens(text) {
    const terms = queryTerms(text).slice(0, MAX_QUERY_TOKENS);
    if (!terms.length) {
      return null;
    }
    const search = await currentSearchKey();
    if (!search) {
      return null;
    }
    return { keyId: search.keyId, tokens: keyed(terms, search.key) };
  }

  window.Refuge = window.Refuge || {};
  window.Refuge.search = Object.freeze({
    MAX_TOKENS: MAX_TOKENS,
    indexCase: indexCase,
    postTokens: postTokens,
    messageTexts: messageTexts,
    isSearchable: isSearchable,
    queryTokens: queryTokens,
    looksLikeReference: looksLikeReference,
    indexTerms: indexTerms,
    queryTerms: queryTerms,
  });
})();
