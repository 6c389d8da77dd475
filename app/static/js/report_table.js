/* Report tables: click a column header to sort by it (again to reverse). Cells carry their
   sort value in data-sort (numbers and ISO dates), so sorting never parses localized text. */
(function () {
  "use strict";
  var table = document.getElementById("report-table");
  if (!table) { return; }
  var body = table.tBodies[0];
  var buttons = table.querySelectorAll("thead button.cd-sort");
  var collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true, sensitivity: "base" });

  function compare(column, numeric, direction) {
    return function (a, b) {
      var x = a.cells[column].getAttribute("data-sort"), y = b.cells[column].getAttribute("data-sort");
      if (x === y) { return 0; }
      if (x === "") { return 1; }  /* empty cells last, whichever the direction */
      if (y === "") { return -1; }
      var result = numeric && !isNaN(x) && !isNaN(y) ? parseFloat(x) - parseFloat(y) : collator.compare(x, y);
      return result * direction;
    };
  }

  Array.prototype.forEach.call(buttons, function (button) {
    button.addEventListener("click", function () {
      var th = button.parentNode;
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(buttons, function (b) { b.parentNode.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(compare(parseInt(button.getAttribute("data-column"), 10), button.getAttribute("data-numeric") === "1", ascending ? 1 : -1));
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
}());
