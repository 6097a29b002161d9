/* Refuge: index in the background the cases a search cannot find yet
 * (window.Refuge.searchBacklog).
 *
 * A case is searchable once a key holder's browser has turned its words into keyed tokens
 * (search.js). The queue indexes its own rows; this indexes the rest, so that a search finds a
 * case nobody has opened in a while. While the queue page is open with the keys unlocked, it
 * asks /cases/search-backlog for a few cases at a time that have no tokens under the current
 * organisation key (their ciphertext only, the same the case page reads), opens each here,
 * and posts its tokens to the case's search-tokens route (with the page's CSRF token), as the
 * queue does for its rows. Nothing decrypted leaves the browser.
 *
 * It works gently: small batches with a pause between them, one case at a time, waiting when
 * the server answers 429 (Retry-After); it stops when the page is left (pagehide) or the keys
 * are locked, and on any other refusal (an expired CSRF token, a rotated key): the next visit
 * carries on where the server's index stands. A case these keys cannot open is skipped and
 * counted. #search-prepare (role=status, aria-live=polite) says how far it is, at most every
 * few seconds, and what is left when it is done.
 *
 * API (needs search.js, staff.js, sealed.js):
 *   start()  begin (again) when not running; stop()  stop now (requests in flight aborted).
 */
(function () {
  "use strict";

  const BATCH = 10; // intake.services.search.BACKLOG_BATCH
  const PAUSE_MS = 500; // between batches
  const ANNOUNCE_MS = 5000; // a polite live region: not a stream of announcements
  const DEFAULT_WAIT_S = 30; // after a 429 without Retry-After
  const MAX_WAIT_S = 600;

  const node = document.getElementById("search-prepare");
  const textNode = document.getElementById("queue-text");
  const text = textNode ? JSON.parse(textNode.textContent) : {};
  let controller = null;

  function sleep(ms, signal) {
    return new Promise(function (resolve) {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener(
        "abort",
        function () {
          clearTimeout(timer);
          resolve();
        },
        { once: true }
      );
    });
  }

  function waitFor(response) {
    const seconds = Number(response && response.headers.get("Retry-After"));
    return 1000 * (seconds > 0 && seconds <= MAX_WAIT_S ? seconds : DEFAULT_WAIT_S);
  }

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (whole, name) {
      return name in values ? String(values[name]) : whole;
    });
  }

  function number(value) {
    const lang = document.documentElement.lang || "en";
    try {
      return new Intl.NumberFormat(lang).format(value);
    } catch (e) {
      return String(value);
    }
  }

  /* The case's answers and searchable texts, opened here; null when these keys cannot. */
  async function openCase(item) {
    const pair = await window.Refuge.staff.orgKeyPair(item.org_key_id);
    if (!pair) {
      return null;
    }
    let answers = null;
    try {
      answers = window.Refuge.sealed.openJson(item.sealed_answers, pair);
    } catch (e) {
      return null;
    }
    if (!answers || typeof answers !== "object") {
      return null;
    }
    const found = await window.Refuge.search.messageTexts(item);
    return { answers: answers, texts: found.texts, through: found.through };
  }

  async function nextBatch(after, signal) {
    const url = new URL(node.getAttribute("data-backlog-url"), window.location.href);
    url.searchParams.set("limit", String(BATCH));
    if (after) {
      url.searchParams.set("after", after);
    }
    for (;;) {
      const response = await fetch(url.toString(), {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
        signal: signal,
      });
      if (response.status === 429) {
        await sleep(waitFor(response), signal);
        if (signal.aborted) {
          return null;
        }
        continue;
      }
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok || response.redirected || type.indexOf("application/json") === -1) {
        return null;
      }
      return response.json();
    }
  }

  /* Post one case's tokens; true when stored. A 429 waits and tries again. */
  async function index(item, opened, signal) {
    for (;;) {
      const status = await window.Refuge.search.postTokens(item.ref, opened.answers, {
        url: item.tokens_url,
        texts: opened.texts,
        through: opened.through,
        signal: signal,
      });
      if (status !== 429) {
        return status >= 200 && status < 300;
      }
      await sleep(1000 * DEFAULT_WAIT_S, signal);
      if (signal.aborted) {
        return false;
      }
    }
  }

  async function run(signal) {
    let after = "";
    let skipped = 0;
    let shownAt = 0;
    let total = 0;
    let left = 0;

    function say(message, now) {
      const at = Date.now();
      if (!now && at - shownAt < ANNOUNCE_MS) {
        return;
      }
      shownAt = at;
      node.textContent = message;
      node.hidden = false;
    }

    function progress(now) {
      say(fill(text.preparing, { done: number(total - left), total: number(total) }), now);
    }

    for (;;) {
      const batch = await nextBatch(after, signal);
      if (!batch || signal.aborted) {
        return false;
      }
      total = Number(batch.total) || 0;
      left = Number(batch.unindexed) || 0;
      if (!batch.cases.length && !after && left === 0) {
        return true; // nothing was waiting: no message
      }
      progress(!shownAt);
      for (let i = 0; i < batch.cases.length; i += 1) {
        const item = batch.cases[i];
        const opened = await openCase(item);
        if (signal.aborted) {
          return false;
        }
        if (!opened) {
          skipped += 1;
          continue;
        }
        if (!(await index(item, opened, signal))) {
          return false; // refused or left: the next visit carries on
        }
        left = Math.max(0, left - 1);
        progress(false);
      }
      if (!batch.next) {
        break;
      }
      after = batch.next;
      await sleep(PAUSE_MS, signal);
      if (signal.aborted) {
        return false;
      }
    }
    if (skipped) {
      say(fill(text.not_openable, { count: number(skipped) }), true);
    } else {
      say(text.prepared, true);
      const pending = document.querySelector("[data-search-pending]");
      if (pending) {
        pending.textContent = text.search_again;
      }
    }
    return true;
  }

  function stop() {
    if (controller) {
      controller.abort();
      controller = null;
    }
  }

  function start() {
    if (!node || controller) {
      return;
    }
    const mine = new AbortController();
    controller = mine;
    run(mine.signal)
      .catch(function () {
        return false;
      })
      .then(function (finished) {
        if (!finished && !mine.signal.aborted) {
          node.hidden = true; // stopped on a refusal: no progress that is not happening
        }
        if (controller === mine) {
          controller = null;
        }
      });
  }

  window.addEventListener("pagehide", stop);

  window.Refuge = window.Refuge || {};
  window.Refuge.searchBacklog = Object.freeze({ start: start, stop: stop });
})();
