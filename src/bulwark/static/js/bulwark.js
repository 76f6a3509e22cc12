// Behaviour that used to be inline in the templates: the Content-Security-Policy allows
// scripts from our static files only (no inline script, no on* attributes).
"use strict";
document.addEventListener("change", function (event) {
  var field = event.target;
  // <select data-autosubmit>: choosing a value submits its form (the language switch).
  if (field instanceof HTMLElement && field.hasAttribute("data-autosubmit") && field.form) {
    field.form.submit();
  }
});
