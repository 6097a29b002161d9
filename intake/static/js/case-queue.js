/*
 * Refuge case queue: adds "in 2 days" / "3 hours ago" next to dates so a deadline's distance
 * is seen at a glance. The page is complete without it (dates are printed in UTC).
 */
(function () {
  "use strict";

  const lang = document.documentElement.lang || "en";
  if (!window.Intl || !Intl.RelativeTimeFormat) {
    return;
  }
  const format = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  const units = [
    ["day", 86400000],
    ["hour", 3600000],
    ["minute", 60000],
  ];

  function relative(when) {
    const diff = when.getTime() - Date.now();
    for (let i = 0; i < units.length; i += 1) {
      const size = units[i][1];
      if (Math.abs(diff) >= size || i === units.length - 1) {
        return format.format(Math.round(diff / size), units[i][0]);
      }
    }
    return "";
  }

  document.querySelectorAll(".case-list time[datetime]").forEach(function (node) {
    const when = new Date(node.getAttribute("datetime"));
    if (isNaN(when.getTime())) {
      return;
    }
    const hint = document.createElement("span");
    hint.className = "relative-time";
    hint.textContent = " (" + relative(when) + ")";
    node.after(hint);
  });
})();
