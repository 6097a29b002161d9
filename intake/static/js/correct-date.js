/*
 * Refuge referral page: "Correct a date" (templates/referrals/detail.html).
 *
 * Choosing a date on record puts its current value in the date field (each option carries it,
 * in the organisation's time, as data-at), so that mending one digit does not mean retyping
 * the whole date and time. What the person typed is never overwritten: only an empty field, or
 * one still holding the value put there by the previous choice, is filled. Without JavaScript
 * the field stays empty and the option's label shows the date.
 */
(function () {
  "use strict";

  const form = document.querySelector("form[data-correct-date]");
  if (!form) {
    return;
  }
  const which = form.querySelector("select[name=which]");
  const field = form.querySelector("input[name=corrected_at]");
  if (!which || !field) {
    return;
  }
  let filled = "";

  which.addEventListener("change", function () {
    const option = which.options[which.selectedIndex];
    const value = (option && option.getAttribute("data-at")) || "";
    if (field.value === "" || field.value === filled) {
      field.value = value;
      filled = value;
    }
  });
})();
