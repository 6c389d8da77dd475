/* Calendar: drag an appointment onto another time (or provider) to move it.
   Free working cells are plain links to the booking form, so clicking needs no script.
   A move is a POST to /schedule/move (CSRF header); the server refuses conflicts, stale
   versions and times outside the working hours, and its translated message is shown. */
(function () {
  "use strict";
  var cal = document.getElementById("cd-cal");
  if (!cal) { return; }
  var alertBox = document.getElementById("cd-cal-alert");
  var statusBox = document.getElementById("cd-cal-status");
  var dragged = null;

  function showError(messages) {
    alertBox.innerHTML = "";
    (messages && messages.length ? messages : [cal.dataset.error]).forEach(function (m) {
      var p = document.createElement("div");
      p.textContent = m;
      alertBox.appendChild(p);
    });
    alertBox.classList.remove("hidden");
    alertBox.scrollIntoView({ block: "nearest" });
  }

  function slotAt(el) {
    while (el && el !== cal) {
      if (el.classList && el.classList.contains("cd-slot")) { return el; }
      el = el.parentNode;
    }
    return null;
  }

  function clearDrop() {
    cal.querySelectorAll(".cd-drop").forEach(function (c) { c.classList.remove("cd-drop"); });
  }

  function endDrag() {
    document.body.classList.remove("cd-dragging");
    if (dragged) { dragged.classList.remove("cd-moving"); }
    clearDrop();
  }

  cal.addEventListener("dragstart", function (e) {
    var block = e.target.closest ? e.target.closest(".cd-appt[draggable=true]") : null;
    if (!block) { return; }
    dragged = block;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", block.dataset.id);
    block.classList.add("cd-moving");
    // Let the drop reach the cells under other appointments.
    setTimeout(function () { document.body.classList.add("cd-dragging"); }, 0);
  });
  cal.addEventListener("dragend", endDrag);

  cal.addEventListener("dragover", function (e) {
    var cell = dragged && slotAt(e.target);
    if (!cell || cell.classList.contains("cd-gap")) { return; }
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    if (!cell.classList.contains("cd-drop")) { clearDrop(); cell.classList.add("cd-drop"); }
  });

  cal.addEventListener("drop", function (e) {
    var cell = dragged && slotAt(e.target);
    if (!cell) { return; }
    e.preventDefault();
    var block = dragged;
    var column = cell.closest(".cd-cal-col");
    var home = { parent: block.parentNode, next: block.nextSibling, top: block.style.top };
    endDrag();
    dragged = null;
    // Show it where it was dropped while the server decides; put it back if refused.
    var body = column.querySelector(".cd-cal-body");
    var index = Array.prototype.indexOf.call(body.querySelectorAll(".cd-slot"), cell);
    body.appendChild(block);
    block.style.top = "calc(var(--cd-row) * " + index + ")";
    block.classList.add("cd-busy");
    alertBox.classList.add("hidden");
    fetch(cal.dataset.moveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": cal.dataset.csrf, "Accept": "application/json" },
      body: JSON.stringify({
        id: block.dataset.id, version: block.dataset.version, start: cell.dataset.start,
        provider: column.dataset.provider
      })
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      if (res.ok && res.data.ok) {
        statusBox.textContent = res.data.message || "";
        window.location.reload();
        return;
      }
      home.parent.insertBefore(block, home.next);
      block.style.top = home.top;
      block.classList.remove("cd-busy");
      showError(res.data.messages);
    }).catch(function () {
      home.parent.insertBefore(block, home.next);
      block.style.top = home.top;
      block.classList.remove("cd-busy");
      showError(null);
    });
  });
})();
