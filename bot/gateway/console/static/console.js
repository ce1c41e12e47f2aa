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

  if (window.EventSource) {
    var url = "/console/events" + (conversation ? "?conversation=" + encodeURIComponent(conversation) : "");
    var source = new EventSource(url);
    source.onmessage = function (msg) {
      var event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      if (event.type === "message" && page === "conversation") { appendMessage(event); }
      if ((event.type === "queue" || event.type === "member_message") && page === "queue") { refreshQueue(); }
    };
    // The session was revoked or expired (sign-out elsewhere, password change, agent disabled).
    source.addEventListener("signed_out", function () {
      source.close();
      window.location.href = "/console/login?expired=1";
    });
  }
})();
