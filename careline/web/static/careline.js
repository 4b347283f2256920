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

  // Panels (booking, reschedule, cancel) answer a refusal with its real status and the step to show again:
  // swap those in rather than leaving the old step on screen.
  function swapRefusals(event) {
    var status = event.detail.xhr.status;
    if (status === 409 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  }

  // The list of times: arrow keys move between them (in reading order) (Enter on one chooses it, as on any button).
  function moveBetweenOptions(event) {
    var step = {ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1}[event.key];
    if (!step) { return; }
    var option = event.target.closest ? event.target.closest(".slot-option") : null;
    if (!option) { return; }
    var options = Array.prototype.slice.call(option.closest(".slot-options").querySelectorAll(".slot-option"));
    var next = options[options.indexOf(option) + step];
    if (next) { next.focus(); event.preventDefault(); }
  }

  // "Close" on a panel empties it instead of reloading the page; without JavaScript it is a plain link back.
  var openers = new WeakMap();
  function rememberOpener(event) {
    var target = event.detail.target;
    if (target && target.hasAttribute("data-panel")) { openers.set(target, event.detail.elt); }
  }
  function closePanel(event) {
    var link = event.target.closest ? event.target.closest("[data-close-panel]") : null;
    var panel = link ? link.closest("[data-panel]") : null;
    if (!panel || !panel.id) { return; }
    event.preventDefault();
    var opener = openers.get(panel);
    panel.innerHTML = "";
    if (opener && document.body.contains(opener)) { opener.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    startIdleTimer();
    document.body.addEventListener("htmx:beforeSwap", swapRefusals);
    document.body.addEventListener("htmx:beforeRequest", rememberOpener);
    document.addEventListener("keydown", moveBetweenOptions);
    document.addEventListener("click", closePanel);
  });
})();
