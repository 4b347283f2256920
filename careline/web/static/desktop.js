// The agent desktop's live part: the contact stream, the offer banner (with a chime and the keyboard), and the
// caller's record, which is the patient pages themselves, shown inside the desktop. Everything else is
// server-rendered fragments (routing/templates/routing/_state.html, _contacts.html).
(function () {
  "use strict";

  const root = document.querySelector("[data-desktop]");
  if (!root || !window.htmx || !window.CarelineLive) { return; }
  const live = window.CarelineLive;
  const words = JSON.parse(document.getElementById("banner-words").textContent);
  const offers = document.getElementById("offers");
  const record = document.getElementById("record");
  const banners = new Map(); // assignment id → its banner
  const title = document.title;

  // --- the chime: two short tones made here (no sound file). Browsers let a page play sound only after the
  // user has touched it, so the audio wakes on the first click or key press.
  let audio = null;
  function wakeAudio() {
    if (!audio && window.AudioContext) { audio = new AudioContext(); }
    if (audio && audio.state === "suspended") { audio.resume(); }
  }
  function chime() {
    if (!audio || audio.state !== "running") { return; }
    [[880, 0], [660, 0.18]].forEach(([pitch, delay]) => {
      const tone = audio.createOscillator();
      const volume = audio.createGain();
      const start = audio.currentTime + delay;
      tone.frequency.value = pitch;
      volume.gain.setValueAtTime(0.0001, start);
      volume.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
      volume.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
      tone.connect(volume).connect(audio.destination);
      tone.start(start);
      tone.stop(start + 0.17);
    });
  }

  // --- offers ----------------------------------------------------------------------------------------------
  function displayName(person) {
    return `${person.preferred_name || person.given_names.split(" ")[0]} ${person.family_name}`;
  }

  const WRITTEN = new Set(["sms", "email", "chat"]);

  // Who to greet: the record's name (masked view or whole), or what the agent should know instead.
  function caller(pop) {
    if (pop.restricted) { return [false, "A restricted record: greet without a name"]; }
    if (pop.candidates.length > 1) { return [false, `${pop.candidates.length} patients share this number`]; }
    if (pop.patient) { return [true, pop.patient.display_name || displayName(pop.patient.patient)]; }
    return [false, WRITTEN.has(pop.offer.interaction.channel) ? "Someone new" : "New caller"];
  }

  function fill(banner, field, text) { banner.querySelector(`[data-field="${field}"]`).textContent = text; }

  function showOffer(pop) {
    const id = pop.offer.assignment_id;
    if (banners.has(id)) { return; }
    const contact = pop.offer.interaction;
    const banner = document.getElementById("offer-template").content.firstElementChild.cloneNode(true);
    const [named, who] = caller(pop);
    banner.dataset.offer = id;
    banner.dataset.interaction = contact.id;
    fill(banner, "kind", pop.offer.role === "consult" ? "A colleague asks you to join" : "Incoming");
    fill(banner, "caller", who);
    banner.querySelector('[data-field="greet"]').hidden = !named;
    fill(banner, "channel", words.channels[contact.channel] || contact.channel);
    fill(banner, "reason", words.reasons[contact.reason] || contact.reason);
    fill(banner, "queue", contact.queue);
    banner.querySelector('[data-field="waiting"]').dataset.since = contact.queued_at || contact.created_at;
    banner.querySelector('[data-field="countdown"]').dataset.until = pop.offer.expires_at;
    banner.querySelector("[data-accept]").addEventListener("click", () => answer(id, "accept"));
    banner.querySelector("[data-reject]").addEventListener("click", () => answer(id, "reject"));
    offers.appendChild(banner);
    banners.set(id, banner);
    live.tick();
    document.title = `Incoming · ${title}`;
    chime();
    if (!busyTyping()) { banner.querySelector("[data-accept]").focus(); }
  }

  // An agent typing notes or a search keeps the keyboard: a space must not accept an offer. Alt+A still does.
  function busyTyping() {
    const active = document.activeElement;
    return Boolean(active && (active.matches("input, textarea, select") || active.isContentEditable));
  }

  function dropOffer(id, news) {
    const banner = banners.get(id);
    if (!banner) { return; }
    const hadFocus = banner.contains(document.activeElement);
    banners.delete(id);
    banner.remove();
    if (news) { live.say(news); }
    if (!banners.size) { document.title = title; }
    const next = offers.querySelector("[data-accept]");
    if (hadFocus) { (next || document.getElementById("contacts")).focus(); }
  }

  function answer(id, verb) {
    const banner = banners.get(id);
    if (!banner) { return; }
    banner.querySelectorAll("button").forEach((button) => { button.disabled = true; });
    window.htmx.ajax("POST", `/desktop/offers/${id}/${verb}`, {target: "#contacts", swap: "innerHTML", source: offers})
      .finally(() => dropOffer(id));
  }

  function loadOffer(id) {
    fetch(`/api/offers/${id}/pop`, {headers: {Accept: "application/json"}})
      .then((response) => (response.ok ? response.json() : null))
      .then((pop) => { if (pop) { showOffer(pop); } });
  }

  // --- the caller's record: the patient pages, shown in #record --------------------------------------------
  function openRecord(card) {
    record.dataset.recordOf = card.dataset.contact;
    live.refresh(card.dataset.recordUrl, "#record");
  }

  function clearRecord() {
    delete record.dataset.recordOf;
    record.replaceChildren(document.getElementById("record-empty").content.cloneNode(true));
  }

  // After the contacts change: the record follows the contact just accepted; a contact that left takes its
  // record with it (the next caller must not see it), and the next contact's record opens.
  function followContacts() {
    const cards = Array.from(document.querySelectorAll("#contacts [data-contact]"));
    const accepted = cards.find((card) => card.hasAttribute("data-open-record"));
    if (accepted) {
      accepted.removeAttribute("data-open-record");
      if (accepted.querySelector("[data-thread-of]")) { landInReply(accepted.dataset.contact); }
      openRecord(accepted);
      return;
    }
    if (cards.some((card) => card.dataset.contact === record.dataset.recordOf)) { return; }
    if (record.dataset.recordOf) { clearRecord(); }
    if (cards.length) { openRecord(cards[0]); }
  }

  // A text, e-mail or chat just accepted: the agent lands in its reply box, once its thread and its record have
  // both loaded (the record's own autofocus, "Verify" or "Who is writing?", would otherwise take the keyboard).
  const landing = {id: null, record: false, thread: false};

  function landInReply(id) {
    Object.assign(landing, {id, record: false, thread: false});
  }

  function landed(part, id) {
    if (landing.id !== id) { return; }
    landing[part] = true;
    if (!landing.record || !landing.thread) { return; }
    landing.id = null;
    const field = document.getElementById(`reply-${id}`);
    if (field && !field.disabled) { field.focus(); }
  }

  function afterSettle(event) {
    if (event.detail.target === record) { landed("record", record.dataset.recordOf); }
  }

  const WHOLE_PAGE = /^\s*<!doctype html/i;

  // Inside the desktop a whole page (the 360 view, the masked view, the search, an error) shows its main
  // content, without touching the page title; refusals (a failed verification, a restricted record) are
  // shown too, as the patient pages show them. A session that ended sends the browser to sign in.
  function showInside(event) {
    const detail = event.detail;
    if (!root.contains(detail.target)) { return; }
    const reply = detail.xhr;
    if (reply.responseURL && new URL(reply.responseURL).pathname === "/login") {
      detail.shouldSwap = false;
      window.location.assign(reply.responseURL);
      return;
    }
    if (reply.status >= 400 && reply.status < 500) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
    if (WHOLE_PAGE.test(reply.responseText || "")) {
      detail.selectOverride = "#main > *";
      detail.ignoreTitle = true;
    }
  }

  function afterSwap(event) {
    const target = event.detail.target;
    if (target.id === "contacts") { followContacts(); }
    if (target.dataset && target.dataset.threadOf) { threadShown(target); }
    if (target === record) {
      const done = record.querySelector("[data-focus-on-load]");
      if (done) { done.focus(); }
    }
  }

  // A panel's "Close" inside the record empties the panel (careline.js); it must not also load the page it
  // links to, which the record's boosted links would otherwise do.
  function keepPanelsClosing(event) {
    const elt = event.detail.elt;
    const panel = elt.closest && elt.hasAttribute("data-close-panel") ? elt.closest("[data-panel]") : null;
    if (panel && panel.id) { event.preventDefault(); }
  }

  // The desktop stays at /desktop: what opens inside the record never changes the address or the history.
  function stayOnTheDesktop(event) {
    if (root.contains(event.detail.target)) { event.detail.history.type = null; }
  }

  // --- a text contact's thread (messaging/templates/messaging/_thread.html) --------------------------------
  const THREAD_NEWS = new Set(["message", "typing", "matched"]);
  const WAITING_MS = 3000; // while a reply of ours is still queued, its status is looked at again this often
  const TYPING_MS = 3000; // the patient hears "typing…" at most this often
  const replies = new Map(); // contact id → what the agent has written and not sent (a refresh keeps it)
  const typedAt = new Map();

  function refreshThread(id) {
    const box = document.getElementById(`thread-${id}`);
    if (box) { live.refresh(`/desktop/contacts/${id}/conversation`, box); }
  }

  function threadShown(box) {
    const id = box.dataset.threadOf;
    landed("thread", id);
    const list = box.querySelector("[data-messages]");
    if (list) { list.scrollTop = list.scrollHeight; }
    const field = box.querySelector("[data-reply]");
    if (field && !field.disabled && !field.value && replies.has(id)) { field.value = replies.get(id); }
    const thread = box.querySelector("[data-thread]");
    if (thread && thread.dataset.waiting === "true") {
      setTimeout(() => { if (box.isConnected) { refreshThread(id); } }, WAITING_MS);
    }
  }

  function replyTyped(event) {
    const field = event.target;
    if (!field.matches || !field.matches("[data-reply]")) { return; }
    const id = field.dataset.interaction;
    replies.set(id, field.value);
    const chat = field.closest("[data-thread]").dataset.channel === "chat";
    if (!chat || Date.now() - (typedAt.get(id) || 0) < TYPING_MS) { return; }
    typedAt.set(id, Date.now());
    window.htmx.ajax("POST", `/desktop/contacts/${id}/typing`, {source: field, swap: "none"});
  }

  // Ctrl+Enter sends the reply being written.
  function replyKeys(event) {
    const field = event.target;
    if (event.key !== "Enter" || !event.ctrlKey || !field.matches || !field.matches("[data-reply]")) { return; }
    event.preventDefault();
    field.form.requestSubmit();
  }

  // Forgotten as it leaves, not when it is answered: the answer's thread is shown (and would be refilled) first.
  // A refused reply comes back in the answer's own box; one that never reached the server stays in this one.
  function replySending(event) {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("form.reply")) { return; }
    replies.delete(form.querySelector("[data-reply]").dataset.interaction);
  }

  // --- the stream --------------------------------------------------------------------------------------------
  function hello(work) {
    live.refresh("/desktop/state", "#agent-state");
    live.refresh("/desktop/contacts", "#contacts");
    const open = new Set(work.offers.map((offer) => offer.assignment_id));
    Array.from(banners.keys()).filter((id) => !open.has(id)).forEach((id) => dropOffer(id));
    open.forEach((id) => { if (!banners.has(id)) { loadOffer(id); } });
  }

  // A contact of this agent moved (the caller hung up, the wrap-up ran out, a supervisor took it back) or
  // one arrived that the page does not show yet.
  function changed(notice) {
    const card = document.querySelector(`#contacts [data-contact="${notice.interaction_id}"]`);
    const mine = notice.status === "connected" || notice.status === "wrap_up";
    if (notice.status === "completed" || notice.status === "abandoned") {  // ended: no offer of it stays up
      Array.from(banners.entries()).filter(([, banner]) => banner.dataset.interaction === notice.interaction_id)
        .forEach(([id]) => dropOffer(id));
    }
    if (card ? card.dataset.status !== notice.status : mine) {
      live.refresh("/desktop/contacts", "#contacts");
    } else if (card && THREAD_NEWS.has(notice.event)) {
      refreshThread(notice.interaction_id);
    }
  }

  const handlers = {
    hello,
    offer: showOffer,
    offer_gone: (notice) => dropOffer(notice.assignment_id, GONE[notice.reason] || GONE.other),
    state: () => live.refresh("/desktop/state", "#agent-state"),
    interaction: changed,
  };

  const GONE = {
    offer_timeout: "The offer timed out and went to the next agent.",
    rejected: "You declined the offer; it went back to the line.",
    offer_withdrawn: "The offer went back to the line when you left Available.",
    caller_left: "The caller hung up before you answered.",
    answered: "You answered the call on your phone.",
    other: "The offer ended: it went back to the line or the caller hung up.",
  };

  // --- the keyboard: Alt+A accept, Alt+R reject, Alt+W wrap up, Alt+1 … Alt+6 states ----------------------
  function shortcut(event) {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    const digit = /^Digit([1-6])$/.exec(event.code);
    const target = {
      KeyA: () => offers.querySelector("[data-accept]:not(:disabled)"),
      KeyR: () => offers.querySelector("[data-reject]:not(:disabled)"),
      KeyW: () => document.querySelector("#contacts [data-wrap-up]"),
    }[event.code]?.() || (digit && document.querySelector(`[data-state-key="${digit[1]}"]`));
    if (!target) { return; }
    event.preventDefault();
    target.click();
  }

  // A chosen disposition sets "Resolved" as the center counts it; the agent may still change it.
  function dispositionSetsResolved(event) {
    const select = event.target;
    if (!select.matches || !select.matches("[data-disposition]")) { return; }
    const option = select.options[select.selectedIndex];
    const box = select.form.querySelector("[data-resolved]");
    if (box && option.dataset.resolves) { box.checked = option.dataset.resolves === "true"; }
  }

  function showRecordOf(event) {
    const button = event.target.closest ? event.target.closest("[data-show-record]") : null;
    if (button) { openRecord(button.closest("[data-contact]")); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.addEventListener("pointerdown", wakeAudio);
    document.addEventListener("keydown", wakeAudio);
    document.addEventListener("keydown", shortcut);
    document.addEventListener("change", dispositionSetsResolved);
    document.addEventListener("click", showRecordOf);
    document.addEventListener("input", replyTyped);
    document.addEventListener("keydown", replyKeys);
    document.body.addEventListener("htmx:beforeRequest", replySending);
    document.body.addEventListener("htmx:beforeSwap", showInside);
    document.body.addEventListener("htmx:afterSwap", afterSwap);
    document.body.addEventListener("htmx:afterSettle", afterSettle);
    document.body.addEventListener("htmx:confirm", keepPanelsClosing);
    document.body.addEventListener("htmx:beforeHistoryUpdate", stayOnTheDesktop);
    document.getElementById("contacts").tabIndex = -1;
    followContacts();
    live.stream("/api/agents/me/events", handlers, () => live.say("Live: offers arrive here."),
      () => live.say("Reconnecting to the contact stream…"));
  });
})();
