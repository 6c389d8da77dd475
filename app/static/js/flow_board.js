/* Patient-flow board: re-fetch the table every N seconds as a background refresh
   ("X-Background-Refresh: 1": the server neither counts it as activity for the automatic
   logoff nor records it in the audit trail), and send the one-click steps without leaving
   the page (the forms carry their CSRF token; without this script they post and redirect). */
(function () {
  "use strict";
  var box = document.getElementById("flow-board");
  if (!box) { return; }
  var messages = document.getElementById("flow-messages");
  var url = box.getAttribute("data-refresh-url");
  var every = (parseInt(box.getAttribute("data-refresh-seconds"), 10) || 30) * 1000;
  var busy = false;

  function show(texts, ok) {
    messages.innerHTML = "";
    texts.forEach(function (text) {
      var div = document.createElement("div");
      div.className = "alert " + (ok ? "alert-success" : "alert-danger");
      div.setAttribute("role", "alert");
      div.textContent = text;
      messages.appendChild(div);
    });
  }

  function choosing() {
    // Do not replace the table under a room list the user has open.
    var el = document.activeElement;
    return el && el.tagName === "SELECT" && box.contains(el);
  }

  function refresh(force) {
    if (busy || (!force && choosing())) { return Promise.resolve(); }
    return fetch(url, {
      credentials: "same-origin", cache: "no-store",
      headers: { "X-Background-Refresh": "1", "Accept": "text/html" }
    }).then(function (r) {
      if (r.status === 401) { window.location.reload(); return null; }
      if (!r.ok) { throw new Error(r.status); }
      return r.text();
    }).then(function (html) {
      if (html !== null) { box.innerHTML = html; }
    }).catch(function () {
      show([box.getAttribute("data-error")], false);
    });
  }

  box.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.classList.contains("cd-flow-step")) { return; }
    e.preventDefault();
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    busy = true;
    fetch(form.action, {
      method: "POST", credentials: "same-origin", body: new FormData(form),
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { throw new Error(r.status); });
    }).then(function (data) {
      show(data.messages || [], data.ok);
    }).catch(function () {
      show([box.getAttribute("data-error")], false);
    }).then(function () {
      busy = false;
      return refresh(true);
    });
  });

  var where = document.getElementById("flow-location");
  if (where) {
    where.addEventListener("change", function () { where.form.submit(); });
  }

  window.setInterval(function () { refresh(false); }, every);
}());
