/* Booking form: patient picker (query in a POST body, never the URL), types the provider
   takes, rooms of the location, telehealth link and repeat fields shown when they apply. */
(function () {
  "use strict";
  var form = document.getElementById("booking-form");
  if (!form) { return; }
  var types = JSON.parse(form.dataset.types || "{}");
  var providerTypes = JSON.parse(form.dataset.providerTypes || "{}");
  var roomLocations = JSON.parse(form.dataset.roomLocations || "{}");
  var provider = document.getElementById("provider");
  var location = document.getElementById("location");
  var type = document.getElementById("type");
  var room = document.getElementById("room");
  var duration = document.getElementById("duration");
  var repeat = document.getElementById("repeat");

  function filterOptions(select, keep) {
    Array.prototype.forEach.call(select.options, function (o) {
      var ok = !o.value || keep(o.value);
      o.hidden = !ok;
      o.disabled = !ok;
      if (!ok && o.selected) { select.value = ""; }
    });
  }
  function onProvider() {
    var allowed = providerTypes[provider.value];
    filterOptions(type, function (id) { return !allowed || !allowed.length || allowed.indexOf(Number(id)) >= 0; });
    onType();
  }
  function onLocation() {
    filterOptions(room, function (id) { return !location.value || String(roomLocations[id]) === location.value; });
  }
  function onType() {
    var info = types[type.value];
    duration.placeholder = info ? String(info.duration) : "";
    document.getElementById("telehealth-block").classList.toggle("hidden", !(info && info.telehealth));
  }
  provider.addEventListener("change", onProvider);
  location.addEventListener("change", onLocation);
  type.addEventListener("change", onType);
  repeat.addEventListener("change", function () {
    document.getElementById("repeat-block").classList.toggle("hidden", !repeat.checked);
  });
  onProvider();
  onLocation();

  var picker = document.getElementById("patient-picker");
  if (!picker) { return; }
  var input = document.getElementById("patient-picker-q");
  var table = document.getElementById("patient-picker-results");
  var body = table.querySelector("tbody");
  var status = document.getElementById("patient-picker-status");
  var token = form.querySelector("input[name=csrf_token]").value;
  var timer = null, seq = 0;

  function choose(p) {
    if (p.restricted) {  // opening a restricted record goes through break-glass: reload with it
      var params = new URLSearchParams({ patient: p.id, provider: provider.value, location: location.value,
                                         type: type.value });
      window.location = window.location.pathname + "?" + params.toString();
      return;
    }
    document.getElementById("patient_id").value = p.id;
    var shown = document.getElementById("chosen-patient");
    shown.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = p.name;
    shown.appendChild(strong);
    [p.mrn, p.birth_date].forEach(function (part) {  // isolated: a date must not reorder in Arabic
      var bdi = document.createElement("bdi");
      bdi.textContent = part;
      shown.appendChild(document.createTextNode(" · "));
      shown.appendChild(bdi);
    });
    body.innerHTML = "";
    table.classList.add("hidden");
    input.value = "";
    status.textContent = "";
  }
  function render(data) {
    body.innerHTML = "";
    data.results.forEach(function (p) {
      var tr = document.createElement("tr");
      [p.mrn, p.name, p.birth_date].forEach(function (text) {
        var td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      });
      if (p.restricted) {
        var lock = document.createElement("i");
        lock.className = "fa fa-lock text-danger";
        lock.title = picker.dataset.restricted;
        tr.children[1].insertBefore(lock, tr.children[1].firstChild);
      }
      var td = document.createElement("td");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-xs btn-primary";
      button.textContent = "✓";
      button.setAttribute("aria-label", p.name);
      button.addEventListener("click", function () { choose(p); });
      td.appendChild(button);
      tr.appendChild(td);
      tr.addEventListener("dblclick", function () { choose(p); });
      body.appendChild(tr);
    });
    table.classList.toggle("hidden", data.results.length === 0);
    status.textContent = data.results.length ? "" : picker.dataset.empty;
  }
  function run() {
    var q = input.value.trim();
    var mine = ++seq;
    if (!q) { body.innerHTML = ""; table.classList.add("hidden"); status.textContent = ""; return; }
    fetch(picker.dataset.searchUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ q: q })
    }).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    }).then(function (data) { if (mine === seq) { render(data); } })
      .catch(function () { if (mine === seq) { status.textContent = picker.dataset.error; } });
  }
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 150); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {  // never submit the booking form from the search box
      e.preventDefault();
      var first = body.querySelector("button");
      if (first && body.children.length === 1) { first.click(); } else { clearTimeout(timer); run(); }
    }
  });
})();
