// Careline page behaviour. No inline scripts anywhere: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // Idle sign-out: hide patient data from an unattended screen once the server session has idled out.
  function startIdleTimer() {
    var minutes = parseInt(document.body.dataset.idleMinutes || "", 10);
    if (!minutes) { return; }
    var timer = null;
    function reset() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () { window.location.assign("/login?reason=idle"); }, minutes * 60 * 1000);
    }
    document.body.addEventListener("htmx:afterRequest", reset);
    reset();
  }

  document.addEventListener("DOMContentLoaded", startIdleTimer);
})();
