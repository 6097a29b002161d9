/*
 * Refuge case queue:
 * - shows each row's person (name or nickname) and a one-line summary, decrypted in this
 *   browser from the sealed answers the page carries (#queue-rows); nothing decrypted is sent
 *   back, and the text goes in with textContent only. Locked keys: the placeholders stay;
 * - indexes for search the rows not yet indexed under the current organisation key, or whose
 *   tokens a follow-up or note has outdated: answers, follow-ups and notes (search.js posts
 *   keyed tokens only); then every other such case, in the background (search-backlog.js);
 * - turns a search typed in the box into keyed tokens before it leaves the page: the words are
 *   never sent (a reference is, as before); only then does the box take more than a reference
 *   (its pattern, for a page without this script) and its hint say so;
 * - follows a grant of the organisation key made since the keys were unlocked: the tab's
 *   keyring is asked for it as the page loads and when the tab is shown again; once the
 *   keyring holds the key, the notice that its reader cannot read cases goes.
 * The page is complete without it, with placeholders for names.
 */
(function () {
  "use strict";

  const staff = window.Refuge.staff;
  const sealed = window.Refuge.sealed;
  const search = window.Refuge.search;
  const backlog = window.Refuge.searchBacklog;
  const rowsNode = document.getElementById("queue-rows");
  const text = JSON.parse(document.getElementById("queue-text").textContent);
  const rows = rowsNode ? JSON.parse(rowsNode.textContent) : [];
  const SUMMARY_LENGTH = 140;
  const LAST_SEARCH = staff.STORAGE.searchWords;
  let generation = 0;

  function rowNode(ref) {
    return document.querySelector('tr.case-row[data-ref="' + CSS.escape(ref) + '"]');
  }

  function firstText() {
    for (let i = 0; i < arguments.length; i += 1) {
      const value = arguments[i];
      if (typeof value === "string" && value.trim()) {
        return value.trim();
      }
    }
    return "";
  }

  function oneLine(value) {
    const line = String(value || "")
      .replace(/\s+/g, " ")
      .trim();
    return line.length > SUMMARY_LENGTH ? line.slice(0, SUMMARY_LENGTH - 1) + "…" : line;
  }

  function show(ref, name, summary, state) {
    const row = rowNode(ref);
    if (!row) {
      return;
    }
    const nameNode = row.querySelector("[data-person-name]");
    const summaryNode = row.querySelector("[data-person-summary]");
    nameNode.textContent = name;
    nameNode.classList.toggle("placeholder", state !== "open");
    summaryNode.textContent = summary;
    // Cut to its column in the table: the whole line on hover (the cards show all of it).
    summaryNode.title = summary;
    row.setAttribute("data-person-state", state);
  }

  async function openRows() {
    const mine = ++generation;
    const ring = staff.keyring();
    backlog.stop();
    if (!ring || !ring.isUnlocked()) {
      rows.forEach(function (row) {
        show(row.ref, text.locked, "", "locked");
      });
      return;
    }
    // Unlocked: say the names are being opened (not "keys locked") until each row is.
    rows.forEach(function (row) {
      show(row.ref, text.opening, "", "opening");
    });
    for (let i = 0; i < rows.length; i += 1) {
      const row = rows[i];
      const pair = await staff.orgKeyPair(row.org_key_id);
      if (mine !== generation) {
        return;
      }
      let answers = null;
      try {
        answers = pair ? sealed.openJson(row.sealed_answers, pair) : null;
      } catch (e) {
        answers = null;
      }
      if (!answers || typeof answers !== "object") {
        show(row.ref, text.unreadable, "", "unreadable");
        continue;
      }
      const contact = answers.contact && typeof answers.contact === "object" ? answers.contact : {};
      const name = firstText(answers.nickname, answers.victim_name, contact.name, answers.sender_name);
      show(row.ref, name || text.no_name, oneLine(answers.what_happened), name ? "open" : "unnamed");
      if (!row.indexed) {
        // With the follow-ups and notes: the tokens replace the case's old ones.
        let found;
        try {
          found = await search.messageTexts(await staff.fetchJson(row.sealed_url));
        } catch (e) {
          continue; // not now: the row stays to be indexed
        }
        if (mine !== generation) {
          return;
        }
        row.indexed = await search.indexCase(row.ref, answers, {
          url: row.tokens_url,
          texts: found.texts,
          through: found.through,
        });
      }
    }
    // This page's rows are done: the cases on no page shown yet are next, in the background.
    if (mine === generation) {
      backlog.start();
    }
  }

  /* Words that found nothing may be a country's name: the answers need not name it, and the
   * country is a routing fact the Country filter finds ("Bangladesh" found no case from it).
   * The names come with the page only then (#queue-countries), each lower-cased. */
  function suggestCountry(words) {
    const names = document.getElementById("queue-countries");
    const link = document.querySelector("[data-country-suggestion]");
    if (!names || !link || !words) {
      return;
    }
    let found = null;
    try {
      found = JSON.parse(names.textContent)[words.trim().toLowerCase()] || null;
    } catch (e) {
      found = null;
    }
    if (!found) {
      return;
    }
    link.href = link.getAttribute("href").replace("country=ZZ", "country=" + encodeURIComponent(found[0]));
    link.textContent = link.getAttribute("data-words").replace("{country}", found[1]);
    if (!link.hidden) {
      return;
    }
    // Apart from "Clear the search" before it, as the page's other links are (they ran together).
    link.before(document.createTextNode(" · "));
    link.hidden = false;
  }

  function setUpSearch() {
    const form = document.getElementById("queue-search");
    if (!form) {
      return;
    }
    const box = form.elements.q;
    const tokensInput = form.elements.t;
    const keyInput = form.elements.k;
    const error = form.querySelector("[data-search-error]");
    const params = new URLSearchParams(window.location.search);
    // The words of the search that drew this page stay in this tab only, to refill the box,
    // while the keys are unlocked: locking forgets them with everything else read.
    function unlocked() {
      const ring = staff.keyring();
      return Boolean(ring && ring.isUnlocked());
    }
    function forgetWords() {
      window.sessionStorage.removeItem(LAST_SEARCH);
      if (params.get("t")) {
        box.value = "";
        // The list the words found goes too: it stayed filtered by a search no longer shown.
        const url = new URL(window.location.href);
        ["t", "k", "page"].forEach(function (name) {
          url.searchParams.delete(name);
        });
        window.location.replace(url.toString());
      }
    }
    try {
      const last = JSON.parse(window.sessionStorage.getItem(LAST_SEARCH) || "null");
      if (last && params.get("t") && last.t === params.get("t") && unlocked()) {
        box.value = last.q;
      }
    } catch (e) {
      window.sessionStorage.removeItem(LAST_SEARCH);
    }
    const ring = staff.keyring();
    if (ring && typeof ring.onChange === "function") {
      ring.onChange(function () {
        if (!unlocked()) {
          forgetWords();
        }
      });
    }
    suggestCountry(box.value);
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        if (!unlocked()) {
          forgetWords(); // locked on another page meanwhile: the box kept the words
        }
        openRows(); // back from the history cache: the background indexing was stopped
      }
      box.disabled = false;
      tokensInput.disabled = true;
      keyInput.disabled = true;
    });
    form.addEventListener("submit", async function (event) {
      const query = box.value.trim();
      if (!query || search.looksLikeReference(query)) {
        return; // a reference is searched by the server, as it is
      }
      event.preventDefault();
      error.hidden = true;
      const found = await search.queryTokens(query);
      if (!found) {
        const ring = staff.keyring();
        let problem = text.need_keys;
        if (ring && ring.isUnlocked()) {
          // Words enough, but no organisation key to key them with (a colleague not granted
          // it yet was told to type more letters).
          problem = search.queryTerms(query).length ? text.no_org_key : text.nothing_to_search;
        }
        error.textContent = problem;
        error.hidden = false;
        return;
      }
      tokensInput.value = found.tokens.join(",");
      keyInput.value = String(found.keyId);
      window.sessionStorage.setItem(LAST_SEARCH, JSON.stringify({ t: tokensInput.value, q: query }));
      tokensInput.disabled = false;
      keyInput.disabled = false;
      box.disabled = true; // the words themselves never leave the page
      form.submit();
    });
    // From here a search by words is keyed in this browser and never sent (the submit above):
    // the box takes more than a reference, and its hint says what happens to the words. Not
    // before, nor without search.js: a page whose scripts did not run keeps the pattern (a
    // reference only) and the plain hint.
    if (search && typeof search.queryTokens === "function") {
      box.removeAttribute("pattern");
      box.removeAttribute("title");
      const plainHint = document.getElementById("q-hint");
      const keyedHint = document.getElementById("q-hint-keyed");
      if (plainHint && keyedHint) {
        plainHint.hidden = true;
        keyedHint.hidden = false;
        box.setAttribute("aria-describedby", keyedHint.id);
      }
    }
  }

  /* A grant of the current organisation key made since this tab's keys were unlocked (an
   * admin in another browser). The keyring fetches grants only when asked for a key it lacks,
   * and a page without a row asked for none: after the grant, the header kept saying "no
   * access to cases yet", and this page that its reader cannot read cases. Asked here as the
   * page loads and when the tab is shown again (someone back from asking an admin), at most
   * every ASK_AGAIN_MS; never on a timer: each fetch of the keyring is audited, and a request
   * counts as activity, which would keep an idle session open. */
  const ASK_AGAIN_MS = 15000;
  function followGrants() {
    const notice = document.querySelector("[data-no-key]");
    const ring = staff.keyring();
    if (!ring || typeof ring.currentOrgKeyId !== "function" || typeof ring.refresh !== "function") {
      return;
    }
    let askedAt = 0;
    // Only a key gained on this page hides the notice: a keyring unlocked before a grant was
    // revoked still holds the key, and the notice says why it stops at this tab.
    const heldAtLoad = ring.isUnlocked() && ring.currentOrgKeyId() !== null;
    function settle() {
      const held = ring.isUnlocked() ? ring.currentOrgKeyId() : null;
      if (notice && !heldAtLoad && held !== null && String(held) === notice.dataset.orgKeyId) {
        notice.hidden = true;
      }
    }
    function ask() {
      if (!ring.isUnlocked() || ring.currentOrgKeyId() !== null || Date.now() - askedAt < ASK_AGAIN_MS) {
        return;
      }
      askedAt = Date.now();
      ring.refresh().then(settle, function () {});
    }
    if (typeof ring.onChange === "function") {
      ring.onChange(settle);
    }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") {
        ask();
      }
    });
    ask();
  }

  setUpSearch();
  sodium.ready.then(function () {
    const ring = staff.keyring();
    if (ring && typeof ring.onChange === "function") {
      ring.onChange(openRows);
    }
    openRows();
    followGrants();
  });
})();
