/* The catalogue's sort menu submits its form when changed (the button in <noscript>
   does it without JavaScript). A file, not an onchange= attribute: the
   Content-Security-Policy allows no inline script. */
document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});
