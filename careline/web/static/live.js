// Shared by the live pages (the agent desktop and the wallboard): clocks that keep counting on the server's time,
// an event stream that heals itself, and fragments that keep the focus and what was typed when they are refreshed.
(function () {
  "use strict";

  let offset = 0; // the server's clock minus this browser's, in milliseconds

  function now() { return Date.now() + offset; }

  // The same running time as the pages print: "0:42", "12:05", "1:02:05".
  function clock(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    const hours = Math.floor(whole / 3600);
    const minutes = Math.floor((whole % 3600) / 60);
    const secs = String(whole % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
  }

  // [data-since] counts up from an instant, [data-until] counts down to one.
  function tick() {
    document.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = clock((now() - Date.parse(el.dataset.since)) / 1000);
    });
    document.querySelectorAll("[data-until]").forEach((el) => {
      const left = (Date.parse(el.dataset.until) - now()) / 1000;
      el.textContent = clock(left);
      el.classList.toggle("is-due", left <= 10);
    });
  }

  function syncClock(root) {
    const marked = root.matches("[data-server-now]") ? root : root.querySelector("[data-server-now]");
    if (marked) { offset = Date.parse(marked.dataset.serverNow) - Date.now(); }
  }

  // A refreshed fragment keeps the focus (by id) and what the user had typed or chosen but not yet sent
  // ([data-draft] fields, by id). Fields already sent come back from the server as they were saved.
  let kept = null;
  function keep(event) {
    const target = event.detail.target;
    const active = document.activeElement;
    const drafts = [];
    target.querySelectorAll("[data-draft][id]").forEach((field) => {
      const changed = field.type === "checkbox" ? field.checked !== field.defaultChecked
        : field.tagName === "SELECT" ? !field.options[field.selectedIndex]?.defaultSelected
          : field.value !== field.defaultValue;
      if (changed) { drafts.push([field.id, field.type === "checkbox" ? field.checked : field.value]); }
    });
    kept = {target, focus: active && active.id && target.contains(active) ? active.id : null, drafts};
  }
  function restore(event) {
    const target = event.detail.target;
    syncClock(target);
    tick();
    if (!kept || kept.target !== target) { return; }
    kept.drafts.forEach(([id, value]) => {
      const field = document.getElementById(id);
      if (!field) { return; }
      if (field.type === "checkbox") { field.checked = value; } else { field.value = value; }
    });
    const focus = kept.focus ? document.getElementById(kept.focus) : null;
    if (focus && !target.querySelector("[autofocus]")) { focus.focus(); }
    kept = null;
  }

  // EventSource reconnects by itself after a dropped connection; after a refusal (a restart, a signed-out
  // session) it gives up, so open it again a little later. `onOpen` runs on every (re)connection.
  function stream(url, handlers, onOpen, onLost) {
    let source = null;
    function open() {
      source = new EventSource(url);
      Object.keys(handlers).forEach((name) => {
        source.addEventListener(name, (event) => handlers[name](JSON.parse(event.data)));
      });
      source.addEventListener("open", onOpen);
      source.addEventListener("error", () => {
        onLost();
        if (source.readyState === EventSource.CLOSED) { setTimeout(open, 5000); }
      });
    }
    open();
  }

  // The target is also the source: htmx keeps one request at a time per source and drops all but the last
  // one waiting, so regions refreshed at the same moment must not share one (by default the body).
  function refresh(url, target) {
    return window.htmx.ajax("GET", url, {target, source: target, swap: "innerHTML"});
  }

  function say(text) {
    const status = document.querySelector("[data-live-status]");
    if (status) { status.textContent = text; }
  }

  document.addEventListener("DOMContentLoaded", () => {
    // Settling copies an element's old attributes onto its new self for a moment; a style attribute (one a
    // tool such as a screen checker left behind) would be an inline style, which the page's policy forbids.
    window.htmx.config.attributesToSettle = ["class", "width", "height"];
    syncClock(document.body);
    tick();
    setInterval(tick, 1000);
    document.body.addEventListener("htmx:beforeSwap", keep);
    document.body.addEventListener("htmx:afterSwap", restore);
  });

  window.CarelineLive = {clock, now, tick, stream, refresh, say};
})();
