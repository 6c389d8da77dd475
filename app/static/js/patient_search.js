/* One-box patient search: the query travels in a POST body (never the URL). */
(function () {
  "use strict";
  var form = document.getElementById("patient-search");
  if (!form) { return; }
  var input = document.getElementById("patient-search-q");
  var table = document.getElementById("patient-search-results");
  var body = table.querySelector("tbody");
  var status = document.getElementById("patient-search-status");
  var token = form.querySelector("input[name=csrf_token]").value;
  var timer = null, seq = 0, active = -1;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function render(data) {
    body.innerHTML = "";
    active = -1;
    data.results.forEach(function (p) {
      var tr = document.createElement("tr");
      tr.className = "cd-result" + (p.status !== "active" ? " cd-status-" + p.status : "");
      tr.dataset.url = p.url;
      var mrn = cell(tr, "");
      var a = document.createElement("a");
      a.href = p.url;
      a.textContent = p.mrn;
      mrn.appendChild(a);
      var name = cell(tr, p.name + (p.merged_into ? " (" + status.dataset.merged + " " + p.merged_into + ")" : ""));
      if (p.status !== "active" && !p.merged_into) {
        var badge = document.createElement("span");
        badge.className = "label label-default cd-status-label";
        badge.textContent = p.status_label;
        name.appendChild(document.createTextNode(" "));
        name.appendChild(badge);
      }
      if (p.restricted) {
        var lock = document.createElement("i");
        lock.className = "fa fa-lock text-danger";
        lock.title = status.dataset.restricted;
        name.insertBefore(lock, name.firstChild);
        name.insertBefore(document.createTextNode(" "), lock.nextSibling);
      }
      cell(tr, p.birth_date);
      cell(tr, String(p.age));
      cell(tr, p.sex);
      cell(tr, p.phone);
      tr.addEventListener("click", function () { window.location = p.url; });
      body.appendChild(tr);
    });
    table.classList.toggle("hidden", data.results.length === 0);
    status.textContent = data.results.length === 0 ? status.dataset.empty :
      (data.similar ? status.dataset.similar : (data.more ? status.dataset.more : ""));
  }

  function run() {
    var q = input.value.trim();
    var mine = ++seq;
    if (!q) { body.innerHTML = ""; table.classList.add("hidden"); status.textContent = ""; return; }
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ q: q })
    }).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    }).then(function (data) {
      if (mine === seq) { render(data); }
    }).catch(function () {
      if (mine === seq) { status.textContent = status.dataset.error; }
    });
  }

  function highlight(n) {
    var rows = body.querySelectorAll("tr");
    if (!rows.length) { return; }
    active = (n + rows.length) % rows.length;
    rows.forEach(function (r, i) { r.classList.toggle("info", i === active); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(run, 150);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { highlight(active + 1); e.preventDefault(); }
    else if (e.key === "ArrowUp") { highlight(active - 1); e.preventDefault(); }
    else if (e.key === "Enter") {
      e.preventDefault();
      var rows = body.querySelectorAll("tr");
      var row = rows[active >= 0 ? active : 0];
      if (row && (rows.length === 1 || active >= 0)) { window.location = row.dataset.url; }
      else { clearTimeout(timer); run(); }
    }
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); run(); });
})();
