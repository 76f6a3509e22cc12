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

// <select data-follows="id_of_other_select">: only the <optgroup> named by the other
// select's value is offered (the incident form's RSIT types follow the chosen class; the
// server checks the pair as well).
function followChoice(select) {
  var source = document.getElementById(select.getAttribute("data-follows"));
  if (!source) return;
  var chosen = source.value;
  var firstAllowed = null;
  Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
    var allowed = !chosen || group.label === chosen;
    group.hidden = !allowed;
    group.disabled = !allowed;
    if (allowed && !firstAllowed) firstAllowed = group.querySelector("option");
  });
  var current = select.selectedOptions[0];
  if ((!current || current.parentElement.disabled) && firstAllowed) {
    firstAllowed.selected = true;
  }
}

document.addEventListener("change", function (event) {
  var field = event.target;
  if (!(field instanceof HTMLElement) || !field.id) return;
  Array.prototype.forEach.call(
    document.querySelectorAll('select[data-follows="' + field.id + '"]'),
    followChoice
  );
});

// Check-all box of the queue's bulk actions: <input type=checkbox data-check-all="name">.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-check-all")) return;
  var name = box.getAttribute("data-check-all");
  Array.prototype.forEach.call(
    document.querySelectorAll('input[type=checkbox][name="' + name + '"]'),
    function (other) { other.checked = box.checked; }
  );
});

document.addEventListener("DOMContentLoaded", function () {
  Array.prototype.forEach.call(document.querySelectorAll("select[data-follows]"), followChoice);
  // Times are read in the zone the page names; say so when the computer runs in another.
  var browserZone = "";
  try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) {}
  Array.prototype.forEach.call(document.querySelectorAll(".zone-note[data-zone]"), function (note) {
    var zone = note.getAttribute("data-zone");
    var warning = note.querySelector(".zone-mismatch");
    if (!warning || !browserZone || browserZone === zone) return;
    warning.textContent = " " + warning.getAttribute("data-template")
      .replace("%(browser)s", browserZone).replace("%(zone)s", zone);
    warning.hidden = false;
  });
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
