/* Refuge: a file field that speaks the page's language (the public forms' evidence files).
 *
 * A browser writes its file input's "Choose Files" and "No file chosen" in its own language:
 * on an Arabic page in an English Tor Browser they were the only English words. Where
 * JavaScript runs, each [data-file-picker] beside a file input (templates/public/_fields.html)
 * is shown: a button-like label in the page's words, and a line naming the files chosen. The
 * input itself is hidden from sight only: it keeps the focus, the keyboard (Space or Enter
 * opens the picker) and what a screen reader says, and the line is added to its description.
 * Without JavaScript the browser's own input stays as it was.
 */
(function () {
  "use strict";
  const FSI = "\u2068"; // a file name isolated from the words around it (an Arabic name in
  const PDI = "\u2069"; // an English line, a Latin one in an Arabic line)

  function listOf(names) {
    try {
      const lang = document.documentElement.lang || undefined;
      return new Intl.ListFormat(lang, { style: "long", type: "conjunction" }).format(names);
    } catch (e) {
      return names.join(", ");
    }
  }

  function enhance(picker) {
    const field = picker.parentElement;
    const input = field && field.querySelector("input[type=file]");
    const line = picker.querySelector(".file-chosen");
    if (!input || !line) {
      return;
    }
    function say() {
      const names = Array.from(input.files || []).map(function (file) {
        return FSI + file.name + PDI;
      });
      line.textContent = names.length
        ? line.getAttribute("data-chosen").replace("{names}", listOf(names))
        : line.getAttribute("data-none");
    }
    const described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (described.indexOf(line.id) === -1) {
      input.setAttribute("aria-describedby", described.concat(line.id).join(" "));
    }
    input.classList.add("file-input-behind");
    picker.hidden = false;
    input.addEventListener("change", say);
    if (input.form) {
      input.form.addEventListener("reset", function () {
        window.setTimeout(say, 0); // after the browser has emptied the input
      });
    }
    say(); // files a browser kept over Back and Forward
  }

  document.querySelectorAll("[data-file-picker]").forEach(enhance);
})();
