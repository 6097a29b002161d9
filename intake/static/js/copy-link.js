/* Refuge: the "Copy the link" button beside an invite or reset link (admin/users.html).
 *
 * Without JavaScript the button stays hidden and the admin selects the link by hand. The
 * clipboard needs a secure context; where it is refused, the link is selected instead and the
 * status line says to copy it with the keyboard.
 */
(function () {
  "use strict";

  function select(target) {
    const range = document.createRange();
    range.selectNodeContents(target);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function bind(button) {
    const target = document.getElementById(button.dataset.copyTarget);
    const status = document.getElementById("copy-enrol-status");
    if (!target || !status) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", async function () {
      let copied = false;
      try {
        if (navigator.clipboard && window.isSecureContext) {
          await navigator.clipboard.writeText(target.textContent.trim());
          copied = true;
        }
      } catch (error) {
        copied = false;
      }
      if (!copied) {
        select(target);
      }
      status.textContent = copied ? status.dataset.copied : status.dataset.copyFailed;
    });
  }

  document.querySelectorAll("button[data-copy-target]").forEach(bind);
})();
