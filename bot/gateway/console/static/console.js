/* Agent console: live queue and transcript updates (Server-Sent Events) and the presence heartbeat.
   Everything also works without this script (plain forms and page loads). */
(function () {
  "use strict";
  var body = document.body;
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) { return; }  // sign-in page
  var csrf = meta.getAttribute("content");
  var page = body.getAttribute("data-page");
  var conversation = body.getAttribute("data-conversation");

  function heartbeat() {
    fetch("/console/heartbeat", {method: "POST", credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf}}).then(function (resp) {
      if (resp.status === 401) { window.location.href = "/console/login?expired=1"; }
    }).catch(function () {});
  }
  heartbeat();
  window.setInterval(heartbeat, 30000);

  var presence = document.getElementById("presence");
  if (presence) {
    presence.addEventListener("change", function () { presence.form.submit(); });
  }

  function refreshQueue() {
    var region = document.getElementById("queue-region");
    if (!region) { return; }
    fetch("/console/queue", {credentials: "same-origin"}).then(function (resp) {
      if (resp.redirected || resp.status !== 200) { return null; }
      return resp.text();
    }).then(function (html) {
      if (html === null || html === undefined) { return; }
      // Keep keyboard focus if it is outside the region; the region is re-rendered server-side.
      region.innerHTML = html;
      renderedAt = Date.now();
    }).catch(function () {});
  }

  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function clock(iso) {
    var d = iso ? new Date(iso) : new Date();
    var h = d.getHours() % 12 || 12;
    return h + ":" + pad(d.getMinutes()) + " " + (d.getHours() < 12 ? "AM" : "PM");
  }

  function appendMessage(event) {
    var list = document.getElementById("transcript");
    if (!list || !event.text || list.querySelector('[data-seq="' + event.seq + '"]')) { return; }
    var li = document.createElement("li");
    li.className = "msg " + event.sender;
    li.setAttribute("data-seq", event.seq);
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = event.sender === "agent" ? (event.agent_name || "Agent") + " (agent)"
      : ({member: "Member", bot: "Assistant", system: "Notice"}[event.sender] || event.sender);
    var time = document.createElement("time");
    time.textContent = clock(event.at);
    var text = document.createElement("div");
    text.className = "text";
    text.textContent = event.text || "";
    li.appendChild(who); li.appendChild(document.createTextNode(" "));
    li.appendChild(time); li.appendChild(text);
    list.appendChild(li);
    li.scrollIntoView({block: "nearest"});
  }

  // -- replying faster: canned replies, SMS length, typing ----------------------------------------
  var reply = document.getElementById("reply");
  var replyForm = document.getElementById("reply-form");
  var canned = document.getElementById("canned");
  if (canned && reply) {
    canned.addEventListener("change", function () {
      var option = canned.options[canned.selectedIndex];
      var text = option && option.getAttribute("data-text");
      if (text) { reply.value = text; reply.dispatchEvent(new Event("input")); reply.focus(); }
    });
  }

  // GSM-7: 160 characters in one text (153 per part when split); one character outside it
  // turns the whole text into UCS-2: 70 (67 per part). Extended characters count twice.
  function smsSize(text) {
    var basic = reply.getAttribute("data-gsm-basic") || "";
    var ext = reply.getAttribute("data-gsm-ext") || "";
    var units = 0, gsm = true, chars = Array.from(text);
    for (var i = 0; i < chars.length; i++) {
      if (basic.indexOf(chars[i]) >= 0) { units += 1; }
      else if (ext.indexOf(chars[i]) >= 0) { units += 2; }
      else { gsm = false; }
    }
    if (!gsm) {
      var u16 = text.length;
      return {chars: u16, gsm: false, parts: u16 <= 70 ? (u16 ? 1 : 0) : Math.ceil(u16 / 67)};
    }
    return {chars: units, gsm: true, parts: units <= 160 ? (units ? 1 : 0) : Math.ceil(units / 153)};
  }
  var smsCount = document.getElementById("sms-count");
  function showSmsSize() {
    if (!reply || !smsCount || reply.getAttribute("data-sms") !== "1") { return; }
    var size = smsSize(reply.value);
    smsCount.textContent = size.chars + " characters, " + size.parts + " text message" +
      (size.parts === 1 ? "" : "s") + (size.gsm ? " (GSM-7)" :
      " (Unicode: a character outside GSM-7 makes each part 70 characters)");
    smsCount.className = size.parts > 1 || !size.gsm ? "muted over" : "muted";
  }

  var typingSentAt = 0;
  function agentTyping(active) {
    if (!replyForm) { return; }
    var body = new URLSearchParams();
    body.set("active", active ? "1" : "0");
    fetch(replyForm.getAttribute("action").replace(/\/reply$/, "/typing"), {
      method: "POST", credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf}, body: body}).catch(function () {});
  }
  if (reply) {
    showSmsSize();
    reply.addEventListener("input", function () {
      showSmsSize();
      var now = Date.now();
      if (reply.value.trim() && now - typingSentAt > 3000) { typingSentAt = now; agentTyping(true); }
    });
    if (replyForm) {
      replyForm.addEventListener("submit", function () { typingSentAt = 0; });
    }
  }

  var memberTyping = document.getElementById("member-typing");
  var memberTypingTimer = null;
  function showMemberTyping() {
    if (!memberTyping) { return; }
    memberTyping.hidden = false;
    clearTimeout(memberTypingTimer);
    memberTypingTimer = setTimeout(function () { memberTyping.hidden = true; }, 6000);
  }

  // -- a new waiting conversation: a short sound and a browser notification ------------------------
  var notifyButton = document.getElementById("notify-on");
  if (notifyButton && window.Notification) {
    notifyButton.hidden = Notification.permission === "granted";
    notifyButton.addEventListener("click", function () {
      Notification.requestPermission().then(function (p) { notifyButton.hidden = p === "granted"; });
    });
  }
  function beep() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    try {
      var audio = new Ctx(), osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.08;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.25);
    } catch (e) { /* no sound */ }
  }
  function alertNewConversation(reason) {
    body.setAttribute("data-last-alert", reason);
    beep();
    if (window.Notification && Notification.permission === "granted" && document.hidden) {
      try {
        new Notification(reason === "auto_assigned" ? "A conversation was given to you" :
          "A member is waiting", {body: "Member services console", tag: "jec-queue"});
      } catch (e) { /* notifications blocked */ }
    }
  }

  // Waiting times tick on the queue page without a reload (from the server's count at render).
  var renderedAt = Date.now();
  function tickWaits() {
    var cells = document.querySelectorAll("td.waited[data-waited]");
    for (var i = 0; i < cells.length; i++) {
      var seconds = parseInt(cells[i].getAttribute("data-waited"), 10);
      if (isNaN(seconds)) { continue; }
      var minutes = Math.floor((seconds + (Date.now() - renderedAt) / 1000) / 60);
      var first = cells[i].firstChild;
      if (first && first.nodeType === 3) {
        first.nodeValue = (minutes <= 0 ? "under 1 min" : minutes + " min") + " ";
      }
    }
  }
  if (page === "queue") { window.setInterval(tickWaits, 30000); }

  if (window.EventSource) {
    var url = "/console/events" + (conversation ? "?conversation=" + encodeURIComponent(conversation) : "");
    var source = new EventSource(url);
    source.onmessage = function (msg) {
      var event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      if (event.type === "message" && page === "conversation") {
        appendMessage(event);
        if (event.sender === "member" && memberTyping) { memberTyping.hidden = true; }
      }
      if (event.type === "member_typing" && page === "conversation") { showMemberTyping(); }
      if (event.type === "member_left" && page === "conversation") {
        var left = document.getElementById("member-left");
        if (left) { left.hidden = false; }
      }
      if ((event.reason === "queued" || event.reason === "auto_assigned") && event.type === "queue") {
        alertNewConversation(event.reason);
      }
      if ((event.type === "queue" || event.type === "member_message") && page === "queue") { refreshQueue(); }
    };
    // The session was revoked or expired (sign-out elsewhere, password change, agent disabled).
    source.addEventListener("signed_out", function () {
      source.close();
      window.location.href = "/console/login?expired=1";
    });
  }
})();
