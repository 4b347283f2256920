// Voice in the browser: the agent's softphone on the desktop (Twilio Voice JS SDK, vendored, loaded only when
// the center has set Twilio up), click-to-call from the 360 page and "Call back" on the desktop, and a contact's
// recording once its call has ended. Every part is optional: without Twilio, or when a request fails, the
// desktop and the 360 page work as before.
(function () {
  "use strict";

  const SDK = "/static/vendor/twilio-voice-2.18.5.min.js";
  const WAIT_FOR_CONTACT_MS = 5000; // a bridged call may ring before the accepted contact shows on the desktop

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (error) {
      return "";
    }
  }

  function getJson(url) {
    return fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"});
  }

  // What a refusal says (the API answers {"detail": "..."}), or a plain sentence when it says nothing.
  function detailOf(response) {
    return response.json().then((body) => (typeof body.detail === "string" ? body.detail : null), () => null)
      .then((detail) => detail || `The call could not be placed (${response.status}).`);
  }

  // --- click-to-call: [data-call] buttons post their body to /api/calls; the result shows next to them --------
  function placeCall(button) {
    const line = document.getElementById(button.dataset.callResult);
    const body = button.dataset.interaction
      ? {interaction_id: button.dataset.interaction}
      : {patient_id: button.dataset.patient, number: button.dataset.number};
    button.disabled = true;
    if (line) { line.textContent = "Calling…"; }
    fetch("/api/calls", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrfToken()},
      body: JSON.stringify(body),
    }).then((response) => {
      if (response.ok) {
        return response.json().then((call) => { if (line) { line.textContent = placed(call); } });
      }
      return detailOf(response).then((detail) => { if (line) { line.textContent = detail; } });
    }, () => {
      if (line) { line.textContent = "Careline could not be reached: the call was not placed."; }
    }).finally(() => { button.disabled = false; });
  }

  // The demo's simulated provider rings no phone: say so rather than wait for a ring that never comes.
  function placed(call) {
    return call && call.provider === "simulated"
      ? "Simulated line: nothing really rings here; end the contact when done."
      : "Calling… the phone rings here when they answer.";
  }

  function clickToCall(event) {
    const button = event.target.closest ? event.target.closest("[data-call]") : null;
    if (button) { event.preventDefault(); placeCall(button); }
  }

  // --- recordings: once a voice contact has ended, a link to its recording when there is one ----------------
  const looked = new Set();

  function showRecordings() {
    document.querySelectorAll("[data-recording-of]").forEach((slot) => {
      const id = slot.dataset.recordingOf;
      if (looked.has(id)) { return; }
      looked.add(id);
      getJson(`/api/interactions/${id}/calls`)
        .then((response) => (response.ok ? response.json() : []))
        .then((calls) => {
          const recorded = calls.filter((call) => call.recording_url);
          recorded.forEach((call, index) => {
            const link = document.createElement("a");
            link.href = call.recording_url;
            link.target = "_blank";
            link.rel = "noopener noreferrer";
            link.textContent = recorded.length > 1 ? `Recording ${index + 1}` : "Recording";
            slot.append(link, " ");
          });
          slot.hidden = recorded.length === 0;
        }, () => {});
    });
  }

  // --- the softphone (desktop only) ---------------------------------------------------------------------
  function startSoftphone(panel) {
    const status = panel.querySelector("[data-softphone-status]");
    const mute = panel.querySelector("[data-softphone-mute]");
    const hangUp = panel.querySelector("[data-softphone-hangup]");
    let current = null;

    function say(text) { status.textContent = text; }

    function controls(call) {
      current = call;
      mute.hidden = hangUp.hidden = !call;
      mute.setAttribute("aria-pressed", "false");
      mute.textContent = "Mute";
    }

    function voiceContactAccepted() {
      return Boolean(document.querySelector('#contacts [data-contact][data-status="connected"][data-voice="true"]'));
    }

    // Answer only a call the agent has already accepted in Careline; anything else is turned away.
    function incoming(call) {
      const started = Date.now();
      function decide() {
        if (voiceContactAccepted()) {
          document.body.removeEventListener("htmx:afterSwap", decide);
          call.accept();
          controls(call);
          say("Softphone: on a call.");
        } else if (Date.now() - started > WAIT_FOR_CONTACT_MS) {
          document.body.removeEventListener("htmx:afterSwap", decide);
          call.reject();
        }
      }
      document.body.addEventListener("htmx:afterSwap", decide);
      setTimeout(decide, WAIT_FOR_CONTACT_MS + 100);
      call.on("disconnect", () => { controls(null); say("Softphone: ready."); });
      call.on("cancel", () => { document.body.removeEventListener("htmx:afterSwap", decide); });
      decide();
    }

    mute.addEventListener("click", () => {
      if (!current) { return; }
      const muted = !current.isMuted();
      current.mute(muted);
      mute.setAttribute("aria-pressed", String(muted));
      mute.textContent = muted ? "Unmute" : "Mute";
    });
    hangUp.addEventListener("click", () => { if (current) { current.disconnect(); } });

    function token() {
      return getJson("/api/telephony/token").then((response) => {
        if (response.status === 409) { return null; }
        if (!response.ok) { throw new Error(`token ${response.status}`); }
        return response.json();
      });
    }

    function loadSdk() {
      if (window.Twilio && window.Twilio.Device) { return Promise.resolve(); }
      return new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = SDK;
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }

    panel.hidden = false;
    token().then((issued) => {
      if (!issued) { say("Softphone: not configured."); return; }
      return loadSdk().then(() => {
        const device = new window.Twilio.Device(issued.token, {closeProtection: true});
        device.on("registered", () => say("Softphone: ready."));
        device.on("error", () => say("Softphone: not connected. Calls ring your phone number if one is set."));
        device.on("incoming", incoming);
        device.on("tokenWillExpire", () => {
          token().then((next) => { if (next) { device.updateToken(next.token); } }, () => {});
        });
        say("Softphone: connecting…");
        device.register();
      });
    }).catch(() => say("Softphone: not available right now."));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.addEventListener("click", clickToCall);
    document.body.addEventListener("htmx:afterSwap", showRecordings);
    showRecordings();
    const panel = document.querySelector("[data-softphone]");
    if (panel) { startSoftphone(panel); }
  });
})();
