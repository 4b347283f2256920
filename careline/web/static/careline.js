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

  // Alt+Shift+B opens the booking panel in every browser (the accesskey alone is Alt+B in some).
  function bookShortcut(event) {
    if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey || event.code !== "KeyB") { return; }
    var button = document.querySelector("[data-book-button]");
    if (!button) { return; }
    event.preventDefault();
    button.focus();
    button.click();
  }

  // Escape closes the panel the focus is in, as its "Close" does (focus back on what opened it).
  function escapeClosesPanel(event) {
    if (event.key !== "Escape" || event.defaultPrevented) { return; }
    var panel = event.target.closest ? event.target.closest("[data-panel]") : null;
    var close = panel && panel.id ? panel.querySelector("[data-close-panel]") : null;
    if (close) { event.preventDefault(); close.click(); }
  }

  // Enter on the visit type starts the search (step 1) instead of only opening the list.
  function enterSubmitsVisitType(event) {
    if (event.key !== "Enter" || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    var select = event.target;
    if (select.tagName !== "SELECT" || !select.hasAttribute("data-enter-submits") || !select.form) { return; }
    event.preventDefault();
    if (select.form.requestSubmit) { select.form.requestSubmit(); } else { select.form.submit(); }
  }

  // After booking, rescheduling or cancelling, the confirmation takes the focus (and so comes into view):
  // it holds what to read to the caller.
  function focusConfirmation() {
    var done = document.querySelector("[data-focus-on-load]");
    if (done) { done.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    startIdleTimer();
    focusConfirmation();
    document.body.addEventListener("htmx:beforeSwap", swapRefusals);
    document.body.addEventListener("htmx:beforeRequest", rememberOpener);
    document.addEventListener("keydown", moveBetweenOptions);
    document.addEventListener("keydown", bookShortcut);
    document.addEventListener("keydown", escapeClosesPanel);
    document.addEventListener("keydown", enterSubmitsVisitType);
    document.addEventListener("click", closePanel);
  });
})();
