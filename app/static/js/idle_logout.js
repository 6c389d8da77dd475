/* Automatic logoff warning. The server signs a session out after SESSION_IDLE_MINUTES
   without a request (requests sent with "X-Background-Refresh: 1" do not count).
   A minute before, this shows a notice with a button that keeps the session alive;
   when the time is up it reloads the page, which then shows the sign-in form. */
(function () {
  "use strict";
  var tag = document.currentScript;
  var minutes = parseFloat(tag && tag.getAttribute("data-idle-minutes"));
  if (!minutes) { return; }
  var limit = minutes * 60000;
  var warnBefore = Math.min(60000, limit / 5);
  var lastActivity = Date.now();
  var notice = null;

  function showNotice() {
    notice = document.createElement("div");
    notice.className = "alert alert-warning idle-logout-warning";
    notice.setAttribute("role", "alert");
    notice.appendChild(document.createTextNode(tag.getAttribute("data-warning") + " "));
    var stay = document.createElement("button");
    stay.type = "button";
    stay.className = "btn btn-default btn-sm";
    stay.textContent = tag.getAttribute("data-stay");
    stay.addEventListener("click", keepAlive);
    notice.appendChild(stay);
    document.body.insertBefore(notice, document.body.firstChild);
  }

  function keepAlive() {
    // An ordinary request (no background header) counts as activity on the server.
    fetch(tag.getAttribute("data-ping"), { credentials: "same-origin", cache: "no-store" }).then(function () {
      lastActivity = Date.now();
      if (notice) { notice.parentNode.removeChild(notice); notice = null; }
    });
  }

  window.setInterval(function () {
    var idle = Date.now() - lastActivity;
    if (idle >= limit + 2000) {
      window.location.reload();
    } else if (idle >= limit - warnBefore && !notice) {
      showNotice();
    }
  }, 5000);
}());
