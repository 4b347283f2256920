/* Careline web chat widget. Embed with one tag:
 *   <script src="https://careline.example.org/chat/widget.js" data-careline="https://careline.example.org"
 *           data-language="en" defer></script>
 * No framework, no third-party service. The chat's token lives in sessionStorage, so a reload keeps the chat
 * and closing the tab forgets it. News is polled every 2 s while the panel is open: it works through any proxy.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || document.querySelector(".careline-chat")) { return; }
  var base = (script.getAttribute("data-careline") || new URL(script.src).origin).replace(/\/$/, "");
  var language = script.getAttribute("data-language") === "es" ? "es" : "en";
  var STORE = "careline-chat:" + base;
  var POLL_MS = 2000, TYPING_MS = 3000, MAX_LINE = 2000;  // MAX_LINE: the API's longest line
  var WORDS = {
    en: { open: "Chat with us", title: "Chat with us", minimise: "Close chat window",
          emergency: "In an emergency call 911.", intro: "Write to us here. An agent will answer as soon as they can.",
          messages: "Messages", label: "Your message", send: "Send", you: "You", agent: "Agent",
          typing: "Agent is typing…", who: "Tell us who you are", name: "Full name", birth: "Date of birth",
          whoSend: "Send my details", email: "E-mail me this chat", emailLabel: "E-mail address",
          emailSend: "E-mail me", end: "End chat", ended: "This chat has ended.", again: "Start a new chat",
          failed: "We could not reach the center. Please try again.", sending: "Sending…",
          full: "That is as long as one message can be (2,000 characters)." },
    es: { open: "Chatee con nosotros", title: "Chatee con nosotros", minimise: "Cerrar la ventana del chat",
          emergency: "En una emergencia llame al 911.", intro: "Escríbanos aquí. Un agente le responderá pronto.",
          messages: "Mensajes", label: "Su mensaje", send: "Enviar", you: "Usted", agent: "Agente",
          typing: "El agente está escribiendo…", who: "Díganos quién es", name: "Nombre completo",
          birth: "Fecha de nacimiento", whoSend: "Enviar mis datos", email: "Envíeme este chat por correo",
          emailLabel: "Correo electrónico", emailSend: "Enviar por correo", end: "Terminar el chat",
          ended: "Este chat ha terminado.", again: "Empezar un chat nuevo",
          failed: "No pudimos comunicarnos con el centro. Inténtelo de nuevo.", sending: "Enviando…",
          full: "Un mensaje no puede ser más largo (2.000 caracteres)." }
  }[language];

  var state = { token: null, after: 0, open: false, ended: false, timer: null, typedAt: 0, unsent: null };
  try {
    var kept = JSON.parse(sessionStorage.getItem(STORE) || "{}");
    state.token = kept.token || null;
    state.open = kept.open === true;
  } catch (e) { /* nothing kept: start afresh */ }

  function save() { sessionStorage.setItem(STORE, JSON.stringify({ token: state.token, open: state.open })); }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attributes[key]; } else { node.setAttribute(key, attributes[key]); }
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  var stylesheet = el("link", { rel: "stylesheet", href: base + "/chat/widget.css" });
  document.head.appendChild(stylesheet);

  var launcher = el("button", { type: "button", "class": "careline-chat-launcher", "aria-expanded": "false",
                                "aria-controls": "careline-chat-panel", text: WORDS.open });
  var log = el("div", { "class": "careline-chat-log", role: "log", "aria-live": "polite", "aria-label": WORDS.messages,
                       tabindex: "0" });
  var typingNote = el("p", { "class": "careline-chat-typing", role: "status" });
  var status = el("p", { "class": "careline-chat-status", role: "status" });
  var input = el("textarea", { id: "careline-chat-input", rows: "2", maxlength: String(MAX_LINE), required: "" });
  var sendButton = el("button", { type: "submit", "class": "careline-chat-primary", text: WORDS.send });
  var talk = el("form", { "class": "careline-chat-talk" }, [
    el("label", { "for": "careline-chat-input", text: WORDS.label }), input, sendButton]);
  var nameInput = el("input", { id: "careline-chat-name", type: "text", autocomplete: "name", maxlength: "200",
                                required: "" });
  var birthInput = el("input", { id: "careline-chat-birth", type: "date", autocomplete: "bday", required: "" });
  var who = el("form", { "class": "careline-chat-extra" }, [
    el("label", { "for": "careline-chat-name", text: WORDS.name }), nameInput,
    el("label", { "for": "careline-chat-birth", text: WORDS.birth }), birthInput,
    el("button", { type: "submit", text: WORDS.whoSend })]);
  var emailInput = el("input", { id: "careline-chat-email", type: "email", autocomplete: "email", maxlength: "254",
                                 required: "" });
  var mail = el("form", { "class": "careline-chat-extra" }, [
    el("label", { "for": "careline-chat-email", text: WORDS.emailLabel }), emailInput,
    el("button", { type: "submit", text: WORDS.emailSend })]);
  var whoDetails = el("details", {}, [el("summary", { text: WORDS.who }), who]);
  // The chat can be e-mailed once an agent has answered (the server's rule): offered only from then on.
  var mailDetails = el("details", { hidden: "" }, [el("summary", { text: WORDS.email }), mail]);
  var endButton = el("button", { type: "button", "class": "careline-chat-end", text: WORDS.end });
  var againButton = el("button", { type: "button", "class": "careline-chat-primary", text: WORDS.again, hidden: "" });
  var closeButton = el("button", { type: "button", "class": "careline-chat-close", "aria-label": WORDS.minimise,
                                   text: "×" });
  var panel = el("section", { id: "careline-chat-panel", "class": "careline-chat-panel", role: "dialog",
                              "aria-labelledby": "careline-chat-title", hidden: "" }, [
    el("header", {}, [el("h2", { id: "careline-chat-title", text: WORDS.title }), closeButton]),
    el("p", { "class": "careline-chat-emergency", text: WORDS.emergency }),
    log, typingNote, talk, status,
    el("div", { "class": "careline-chat-more" }, [whoDetails, mailDetails]),
    el("div", { "class": "careline-chat-actions" }, [endButton, againButton])]);
  var root = el("div", { "class": "careline-chat", lang: language }, [launcher, panel]);
  document.body.appendChild(root);

  function call(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (state.token) { headers["X-Chat-Token"] = state.token; }
    return fetch(base + "/chat/api/" + path, { method: method, headers: headers, credentials: "omit",
                                               body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (response) {
        if (response.status === 204) { return null; }
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var error = new Error(data.detail || WORDS.failed);
            error.status = response.status;
            throw error;
          }
          return data;
        });
      });
  }

  function ensureChat() {
    if (state.token) { return Promise.resolve(); }
    return call("POST", "chats", { language: language }).then(function (started) {
      state.token = started.token;
      save();
    });
  }

  function say(text) { status.textContent = text; }

  function fail(error) {
    if (error.status === 404) { forget(); }
    if (error.status === 410) { showEnded(); }
    say(error.status ? error.message : WORDS.failed);  // no status: the network failed, not the center
  }

  function addLine(line) {
    if (line.seq <= state.after) { return; }
    state.after = line.seq;
    var mine = line.from_patient;
    var item = el("p", { "class": mine ? "careline-chat-mine" : "careline-chat-theirs" }, [
      el("span", { "class": "careline-chat-author", text: (mine ? WORDS.you : WORDS.agent) + ": " }),
      el("span", { "class": "careline-chat-body", text: line.body })]);
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    if (!mine) { mailDetails.hidden = false; }
  }

  function showEnded() {
    state.ended = true;
    typingNote.textContent = "";
    input.disabled = sendButton.disabled = endButton.hidden = whoDetails.hidden = true;
    againButton.hidden = false;
    if (!log.querySelector(".careline-chat-ended")) {
      log.appendChild(el("p", { "class": "careline-chat-ended", text: WORDS.ended }));
      log.scrollTop = log.scrollHeight;
    }
    stopPolling();
  }

  function forget() {
    state.token = null;
    state.after = 0;
    state.ended = false;
    save();
    resetLog();
    typingNote.textContent = "";
    input.disabled = sendButton.disabled = endButton.hidden = whoDetails.hidden = false;
    againButton.hidden = mailDetails.hidden = true;
  }

  function resetLog() {
    log.textContent = "";
    log.appendChild(el("p", { "class": "careline-chat-intro", text: WORDS.intro }));
  }

  function poll() {
    if (!state.token) { return; }
    call("GET", "messages?after=" + state.after).then(function (news) {
      news.lines.forEach(addLine);
      typingNote.textContent = news.agent_typing ? WORDS.typing : "";
      if (news.ended) { showEnded(); }
    }).catch(function (error) { if (error.status === 404) { forget(); } });
  }

  function startPolling() {
    stopPolling();
    poll();
    state.timer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    if (state.timer) { clearInterval(state.timer); state.timer = null; }
  }

  function setOpen(open) {
    state.open = open;
    save();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.hidden = open;
    if (open) {
      if (!state.ended) { startPolling(); }
      input.focus();
    } else {
      stopPolling();
      launcher.focus();
    }
  }

  // A line keeps its id until it is sent: "Send" again after a lost answer is the same line, never a second one.
  function lineId(text) {
    if (!state.unsent || state.unsent.text !== text) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      var id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      state.unsent = { text: text, id: id };
    }
    return state.unsent.id;
  }

  function send() {
    var text = input.value.trim();
    if (!text || state.ended) { return; }
    var id = lineId(text);
    sendButton.disabled = true;
    say(WORDS.sending);
    ensureChat().then(function () { return call("POST", "messages", { body: text, line_id: id }); })
      .then(function (line) {
        state.unsent = null;
        input.value = "";
        say("");
        addLine(line);
        if (!state.timer) { startPolling(); }
      }).catch(fail).then(function () { sendButton.disabled = state.ended; input.focus(); });
  }

  launcher.addEventListener("click", function () { setOpen(true); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { setOpen(false); } });
  talk.addEventListener("submit", function (event) { event.preventDefault(); send(); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
  });
  input.addEventListener("input", function () {
    var full = input.value.length >= MAX_LINE;  // a paste cut at the limit says so, once; shorter, it is gone
    if (full !== (status.textContent === WORDS.full)) { say(full ? WORDS.full : ""); }
    var now = Date.now();
    if (state.token && !state.ended && now - state.typedAt > TYPING_MS) {
      state.typedAt = now;
      call("POST", "typing").catch(function () { /* a missed typing notice matters to no one */ });
    }
  });
  who.addEventListener("submit", function (event) {
    event.preventDefault();
    ensureChat().then(function () {
      return call("POST", "identify", { name: nameInput.value.trim(), birth_date: birthInput.value });
    }).then(function (answer) {
      say(answer.message);
      nameInput.value = birthInput.value = "";
      whoDetails.open = false;
    }).catch(fail);
  });
  mail.addEventListener("submit", function (event) {
    event.preventDefault();
    ensureChat().then(function () { return call("POST", "transcript", { email: emailInput.value.trim() }); })
      .then(function (answer) { say(answer.message); mailDetails.open = false; }).catch(fail);
  });
  endButton.addEventListener("click", function () {
    if (!state.token) { forget(); setOpen(false); return; }
    call("POST", "end").then(showEnded).catch(fail);
  });
  againButton.addEventListener("click", function () { forget(); say(""); input.focus(); });

  resetLog();
  if (state.open) { setOpen(true); }
})();
