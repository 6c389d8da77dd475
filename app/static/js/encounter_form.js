/* Encounter page: suggest ICD-10-CM codes (of the set in force on the date of service) while a
   diagnosis is typed. The text travels in a POST body; typing a code by hand works without this. */
(function () {
  "use strict";
  var script = document.currentScript;
  var list = document.getElementById("icd-options");
  if (!script || !list) { return; }
  var url = script.dataset.search, token = script.dataset.csrf, day = script.dataset.date;
  var timer = null, seq = 0;

  function fill(results) {
    list.innerHTML = "";
    results.forEach(function (r) {
      var option = document.createElement("option");
      option.value = r.code;
      option.label = r.code + " " + r.description + (r.billable ? "" : " \u2014 " + script.dataset.category);
      list.appendChild(option);
    });
  }

  function search(text) {
    var mine = ++seq;
    fetch(url, {method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                body: JSON.stringify({q: text, date: day, limit: 20})})
      .then(function (resp) { return resp.ok ? resp.json() : {results: []}; })
      .then(function (data) { if (mine === seq) { fill(data.results || []); } })
      .catch(function () { /* no suggestions: the code can still be typed */ });
  }

  document.querySelectorAll(".cd-icd-input").forEach(function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var text = input.value.trim();
      if (text.length < 2) { return; }
      timer = setTimeout(function () { search(text); }, 250);
    });
  });
}());
