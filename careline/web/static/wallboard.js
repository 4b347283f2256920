// The wallboard's live part: on every "changed" from the stream the board fragment is read again (live.js
// keeps its clocks counting in between). A supervisor choosing from a list is not interrupted: the board
// waits until the list is closed.
(function () {
  "use strict";

  const root = document.querySelector("[data-wallboard]");
  if (!root || !window.htmx || !window.CarelineLive) { return; }
  const live = window.CarelineLive;
  let waiting = false;

  function choosing() {
    const active = document.activeElement;
    return Boolean(active && active.tagName === "SELECT" && root.contains(active));
  }

  function refresh() {
    waiting = choosing();
    if (!waiting) { live.refresh("/wallboard/board", "#board"); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    root.addEventListener("focusout", () => setTimeout(() => { if (waiting) { refresh(); } }, 0));
    live.stream("/api/wallboard/events", {changed: refresh}, () => {
      live.say("Live");
      refresh(); // whatever moved while the stream was away
    }, () => live.say("Reconnecting…"));
  });
})();
