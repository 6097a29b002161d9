/*
 * Refuge new-referral form: the kind follows the chosen organisation or mechanism, and the
 * deadline the choice implies is shown before saving.
 *
 * The server renders, for every active directory entry, the kinds it takes (its usual kind
 * first) and the deadline each implies (computed by intake.services.deadlines.due_at), in
 * #referral-kinds. Choosing an entry offers only its kinds and selects the usual one. Without
 * JavaScript the form still works: every kind is listed and the server refuses a kind the entry
 * does not take.
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

  function showDue() {
    const kinds = kindsOf(entry.value);
    const chosen = kinds
      ? kinds.find(function (item) {
        return item.kind === kind.value;
      })
      : null;
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
    hint.textContent = "(" + chosen.clock + ")";
    output.replaceChildren(
      document.createTextNode(text.implies + " "),
      time,
      document.createTextNode(" "),
      hint,
    );
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

  entry.addEventListener("change", function () {
    offerKinds(false);
  });
  kind.addEventListener("change", showDue);
  offerKinds(true);
})();
