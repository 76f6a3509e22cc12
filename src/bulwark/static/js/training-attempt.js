// Saves each answer as it is given (issue 24). Every save carries a revision number that
// only grows, so a save repeated after a lost connection, or an older one arriving late,
// changes nothing on the server; unsent saves wait in localStorage and are sent again.
(function () {
  "use strict";
  var form = document.getElementById("attempt-form");
  if (!form) { return; }
  var url = form.getAttribute("data-answer-url");
  var key = "bulwark-attempt:" + url;
  var state = document.getElementById("save-state");
  var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var revision = parseInt(form.getAttribute("data-revision"), 10) || 1;
  var pending = {};
  try { pending = JSON.parse(localStorage.getItem(key) || "{}"); } catch (e) { pending = {}; }
  Object.keys(pending).forEach(function (q) { revision = Math.max(revision, pending[q].revision + 1); });

  function keep() { localStorage.setItem(key, JSON.stringify(pending)); }
  function say(text) { if (state) { state.textContent = text; } }

  function send(q) {
    var body = pending[q];
    if (!body) { return; }
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.ok || response.status === 409 || response.status === 400) {
        if (pending[q] && pending[q].revision === body.revision) { delete pending[q]; keep(); }
        say(response.ok ? form.getAttribute("data-saved") || "✓" : "!");
      } else { throw new Error(String(response.status)); }
    }).catch(function () { say("…"); setTimeout(function () { send(q); }, 3000); });
  }

  form.addEventListener("change", function (event) {
    var field = event.target.closest("fieldset[data-question]");
    if (!field) { return; }
    var q = field.getAttribute("data-question");
    var chosen = Array.prototype.map.call(field.querySelectorAll("input:checked"), function (i) { return i.value; });
    revision += 1;
    form.querySelector("input[name=revision]").value = String(revision + 1);
    pending[q] = { question: parseInt(q, 10), chosen: chosen, revision: revision };
    keep();
    send(q);
  });
  Object.keys(pending).forEach(send);
})();
