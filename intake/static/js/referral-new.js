/*
 * Refuge new-referral form: the kind follows the chosen organisation or mechanism, and the
 * deadline the choice implies is shown before saving.
 *
 * The server renders, for every active directory entry, the kinds it takes (its usual kind
 * first) and the deadline each implies (computed by intake.services.deadlines.due_at), in
 * #referral-kinds. Choosing an entry offers only its kinds and selects the usual one. Without
 * JavaScript the form still works: every kind is listed and the server refuses a kind the entry
 * does not take.
 *
 * The deadline-in-hours field shows only for a kind that takes one, and the "no consent is
 * recorded" notice (with an admin's override reason) only when consent on record does not cover
 * the chosen kind (to share, with the chosen organisation); while no kind is chosen, none of
 * them. Without JavaScript the server folds
 * what the chosen kind does not need under "Only for some kinds"; this script unfolds it and
 * shows each part only when the choice needs it.
 */
(function () {
  "use strict";

  const data = document.getElementById("referral-kinds");
  const entry = document.getElementById("entry_id");
  const kind = document.getElementById("kind");
  const output = document.getElementById("implied-due");
  if (!data || !entry || !kind || !output) {
    return;
  }
  const table = JSON.parse(data.textContent);
  const text = JSON.parse(document.getElementById("referral-new-text").textContent);
  // Every kind with its translated label, as the server rendered them.
  const allKinds = Array.prototype.map.call(kind.options, function (option) {
    return { value: option.value, label: option.textContent };
  });

  function kindsOf(entryId) {
    return Object.prototype.hasOwnProperty.call(table, entryId) ? table[entryId] : null;
  }

  const hoursField = document.querySelector("[data-hours-field]");
  const consentNotice = document.querySelector("[data-consent-needed]");
  const overrideField = document.querySelector("[data-override-field]");

  /* The folded parts move out of the fold (for the kinds that need them) and the fold goes. */
  function unfold() {
    const fold = document.querySelector("[data-kind-needs-other]");
    if (!fold) {
      return;
    }
    [hoursField, overrideField].forEach(function (part) {
      if (part && fold.contains(part)) {
        fold.parentNode.insertBefore(part, fold);
      }
    });
    fold.remove();
  }

  function showWhatTheKindNeeds(chosen) {
    if (hoursField) {
      hoursField.hidden = !chosen || !chosen.hours;
      // What the hours count, said for the chosen kind only.
      hoursField.querySelectorAll("[data-hours-for]").forEach(function (line) {
        line.hidden = !chosen || line.dataset.hoursFor !== chosen.kind;
      });
    }
    if (!consentNotice) {
      return;
    }
    let concerned = false;
    // chosen.consent: consent on record covers this kind (to share, with this organisation).
    consentNotice.querySelectorAll("[data-purpose]").forEach(function (line) {
      line.hidden = !chosen || chosen.consent || line.dataset.purpose !== chosen.purpose;
      concerned = concerned || !line.hidden;
    });
    consentNotice.hidden = !concerned;
    if (overrideField) {
      overrideField.hidden = !concerned;
      if (!concerned) {
        // A reason left chosen for a kind that needs none would be sent (and audited).
        overrideField.querySelectorAll("select").forEach(function (select) {
          select.value = "";
        });
      }
    }
  }

  function showDue() {
    const kinds = kindsOf(entry.value);
    const chosen = kinds
      ? kinds.find(function (item) {
        return item.kind === kind.value;
      })
      : null;
    showWhatTheKindNeeds(chosen);
    if (!chosen) {
      const hint = document.createElement("span");
      hint.className = "hint";
      hint.textContent = text.choose;
      output.replaceChildren(hint);
      return;
    }
    const time = document.createElement("time");
    time.setAttribute("datetime", chosen.due_utc);
    time.title = chosen.due_utc.replace("T", " ").slice(0, 16) + " UTC";
    time.textContent = chosen.due;
    const hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = (text.brackets || "(%(text)s)").replace("%(text)s", chosen.clock);
    // No space after the colon, or before the brackets, where the language sets none (base.html).
    const gap = document.documentElement.dataset.sentenceGap ?? " ";
    output.replaceChildren(document.createTextNode(text.implies + gap), time, document.createTextNode(gap), hint);
    if (chosen.passed) {
      // A clock from the case's arrival that ran out before this referral starts.
      const passed = document.createElement("span");
      passed.className = "badge badge-overdue";
      passed.dataset.passed = "";
      passed.textContent = text.passed;
      output.append(" ", passed);
    }
  }

  function offerKinds(keepCurrent) {
    const kinds = kindsOf(entry.value);
    if (!kinds) {
      showDue();
      return;
    }
    const accepted = kinds.map(function (item) {
      return item.kind;
    });
    const previous = kind.value;
    kind.replaceChildren();
    allKinds.forEach(function (item) {
      if (accepted.indexOf(item.value) >= 0) {
        const option = document.createElement("option");
        option.value = item.value;
        option.textContent = item.label;
        kind.appendChild(option);
      }
    });
    // Keep the server's preselection on load; a newly chosen entry gets its usual kind.
    kind.value = keepCurrent && accepted.indexOf(previous) >= 0 ? previous : accepted[0];
    showDue();
  }

  // An information source, a funder or a pro bono broker: said while it is the choice.
  const noCasework = document.querySelector("[data-no-casework]");
  function sayWhetherItTakesCases() {
    if (noCasework) {
      const ids = noCasework.dataset.noCasework.split(" ").filter(Boolean);
      noCasework.hidden = !ids.includes(entry.value);
    }
  }

  entry.addEventListener("change", function () {
    offerKinds(false);
    sayWhetherItTakesCases();
  });
  kind.addEventListener("change", showDue);
  unfold();
  offerKinds(true);
})();
