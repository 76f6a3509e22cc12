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
// "/" moves to the page's search box (as on GitHub and GitLab), unless someone is typing.
document.addEventListener("keydown", function (event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) {
    return;
  }
  var active = document.activeElement;
  if (active instanceof HTMLElement &&
      (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName))) {
    return;
  }
  var box = document.querySelector("main input[data-search], main input[name='q'], main input[type='search']");
  if (box instanceof HTMLInputElement) {
    event.preventDefault();
    box.focus();
    box.select();
  }
});
