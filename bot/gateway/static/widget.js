/*
 * JEC chat widget: one script, one stylesheet. Embed with
 *   <script src="https://chat.example.coop/static/widget.js" defer
 *           data-gateway="https://chat.example.coop" data-color="#1d4f91"
 *           data-greeting="Hi! I can help with bills, payments and outages."></script>
 * Protocol: docs/gateway-protocol.md. Member and bot text is never parsed as HTML: every message
 * is built from DOM nodes and text nodes, and only http(s) links become <a> elements.
 */
(function () {
  "use strict";
  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='widget.js']");
    return all[all.length - 1];
  })();
  if (!script || window.__jecWidgetLoaded) { return; }
  window.__jecWidgetLoaded = true;

  var scriptUrl = new URL(script.src, window.location.href);
  var gateway = (script.getAttribute("data-gateway") || scriptUrl.origin).replace(/\/+$/, "");
  var color = script.getAttribute("data-color") || "#1d4f91";
  var greeting = script.getAttribute("data-greeting") ||
    "Hi! I can help with your bill, payments, outages and more.";
  var title = script.getAttribute("data-title") || "Chat with us";
  var storeKey = "jecw:" + gateway;
  var URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

  var state = loadState();          // {token, pending:[{client_id,text,payload}]}
  var lastSeq = 0;                  // highest seq shown on this page (0 after a reload: full replay)
  var bySeq = {};
  var byClientId = {};
  var typedHere = {};               // client_ids of the messages typed on this page since it loaded
  var ws = null;
  var retry = 0;
  var typingTimer = null;
  var quickBox = null;
  var reconnectTimer = null;

  function loadState() {
    try {
      var raw = JSON.parse(window.localStorage.getItem(storeKey) || "{}");
      return { token: raw.token || null, conversationId: raw.conversationId || null,
               pending: Array.isArray(raw.pending) ? raw.pending : [] };
    } catch (e) { return { token: null, conversationId: null, pending: [] }; }
  }
  // Never keep what may be a card or bank number in the browser's storage: such a message waits
  // for its acknowledgement in memory only (the gateway masks it before storing anything).
  var LONG_NUMBER = /\d(?:[ -]?\d){8,}/;
  function saveState() {
    var keep = {
      token: state.token, conversationId: state.conversationId,
      pending: state.pending.filter(function (p) { return !LONG_NUMBER.test(p.text); })
    };
    try { window.localStorage.setItem(storeKey, JSON.stringify(keep)); } catch (e) { /* private mode */ }
  }
  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  // ---------------------------------------------------------------- styles and skeleton
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = new URL("widget.css", scriptUrl).href;
  document.head.appendChild(css);

  var root = el("div", "jecw-root");
  root.style.setProperty("--jecw-accent", color);

  var bubble = el("button", "jecw-bubble");
  bubble.type = "button";
  bubble.setAttribute("aria-expanded", "false");
  bubble.setAttribute("aria-controls", "jecw-panel");
  bubble.setAttribute("aria-label", "Open chat: " + title);
  var bubbleIcon = el("span", "jecw-bubble-icon", "\u2709");
  bubbleIcon.setAttribute("aria-hidden", "true");
  bubble.appendChild(bubbleIcon);
  bubble.appendChild(el("span", "jecw-bubble-label", "Chat"));

  var panel = el("section", "jecw-panel");
  panel.id = "jecw-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "jecw-title");

  var header = el("div", "jecw-header");
  var h = el("h2", "jecw-title", title);
  h.id = "jecw-title";
  var closeBtn = el("button", "jecw-close");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", "Close chat");
  closeBtn.textContent = "\u00d7";
  // "End chat": forget this conversation in this browser (token and transcript), for shared
  // computers. The next message starts a new conversation, which knows nothing of this one.
  var endBtn = el("button", "jecw-end", "End chat");
  endBtn.type = "button";
  endBtn.setAttribute("aria-label", "End chat and clear it from this browser");
  header.appendChild(h);
  header.appendChild(endBtn);
  header.appendChild(closeBtn);

  var log = el("div", "jecw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.tabIndex = 0;

  var typing = el("div", "jecw-typing");
  typing.hidden = true;
  typing.setAttribute("aria-hidden", "true");
  for (var i = 0; i < 3; i++) { typing.appendChild(el("span", "jecw-dot")); }
  var typingName = el("span", "jecw-typing-name");  // "Maria is typing" (an agent)
  typing.appendChild(typingName);
  var typingSentAt = 0;

  var status = el("div", "jecw-status");
  status.setAttribute("role", "status");

  var form = el("form", "jecw-form");
  var label = el("label", "jecw-sr", "Type your message");
  label.htmlFor = "jecw-input";
  var input = el("textarea", "jecw-input");
  input.id = "jecw-input";
  input.rows = 1;
  input.maxLength = 2000;
  input.setAttribute("autocomplete", "off");
  input.placeholder = "Type your message";
  var send = el("button", "jecw-send", "Send");
  send.type = "submit";
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(send);

  var note = el("p", "jecw-note", "Please don't type card or bank account numbers here.");

  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(status);
  panel.appendChild(form);
  panel.appendChild(note);
  root.appendChild(panel);
  root.appendChild(bubble);

  function mount() {
    document.body.appendChild(root);
    if (window.location.hash === "#chat") { openPanel(); }  // links like <a href="#chat"> open it too
    window.addEventListener("hashchange", function () { if (window.location.hash === "#chat" && panel.hidden) { openPanel(); } });
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }

  // ---------------------------------------------------------------- open / close, keyboard
  var greeted = false;
  function greet() {  // shown locally, not stored: the transcript starts with the member's first message
    if (greeted) { return; }
    greeted = true;
    var node = render({ sender: "bot", text: greeting }, false);
    log.insertBefore(node, log.firstChild);
  }
  function openPanel() {
    greet();
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    root.classList.add("jecw-open");
    connect();
    scrollDown();
    input.focus();
  }
  function closePanel() {
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    root.classList.remove("jecw-open");
    bubble.focus();
  }
  bubble.addEventListener("click", function () { if (panel.hidden) { openPanel(); } else { closePanel(); } });
  closeBtn.addEventListener("click", closePanel);
  endBtn.addEventListener("click", endChat);
  function endChat() {
    // Tell an agent who may have the chat that the member left, then close.
    if (ws && ws.readyState === 1 && ws.jecReady) {
      try { ws.send(JSON.stringify({ type: "end" })); } catch (e) { /* closing anyway */ }
    }
    if (ws) { ws.onclose = null; ws.onmessage = null; try { ws.close(1000, "chat ended"); } catch (e) { /* closed */ } }
    ws = null;
    clearTimeout(reconnectTimer);
    try { window.localStorage.removeItem(storeKey); } catch (e) { /* private mode */ }
    state = { token: null, conversationId: null, pending: [] };
    clearTranscript();
    setStatus("Chat ended and cleared from this browser. Type a message to start a new one.");
    input.focus();
  }
  // Forget what this page shows of the conversation (the gateway's welcome says "reset" when the
  // browser must not keep it: an expired conversation, or messages from before a long silence).
  function clearTranscript() {
    lastSeq = 0;
    bySeq = {};
    byClientId = {};
    clearQuickReplies();
    while (log.firstChild) { log.removeChild(log.firstChild); }
    setTyping(false);
    greeted = false;
    if (!panel.hidden) { greet(); }
  }
  // On "reset": unsent messages kept from before this page loaded (perhaps someone else's) are
  // dropped; those typed on this page are shown again and sent.
  function resetTranscript() {
    clearTranscript();
    state.pending = state.pending.filter(function (p) { return typedHere[p.client_id]; });
    state.pending.forEach(function (p) {
      byClientId[p.client_id] = render({ sender: "member", text: p.text }, true);
    });
  }
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { closePanel(); } });
  // Tell the agent (if one has the chat) that the member is typing, at most every 3 seconds.
  input.addEventListener("input", function () {
    var now = Date.now();
    if (!input.value.trim() || now - typingSentAt < 3000) { return; }
    if (ws && ws.readyState === 1 && ws.jecReady) {
      typingSentAt = now;
      ws.send(JSON.stringify({ type: "typing" }));
    }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : submit(); }
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });

  function submit() {
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    sendMember(text, null);
    input.focus();
  }

  // ---------------------------------------------------------------- rendering (DOM nodes only)
  function appendText(parent, text) {
    var lines = String(text || "").split("\n");
    lines.forEach(function (line, n) {
      if (n > 0) { parent.appendChild(document.createElement("br")); }
      var last = 0;
      line.replace(URL_RE, function (url, offset) {
        if (offset > last) { parent.appendChild(document.createTextNode(line.slice(last, offset))); }
        var a = el("a", "jecw-link", url);
        a.href = url;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        parent.appendChild(a);
        last = offset + url.length;
        return url;
      });
      if (last < line.length) { parent.appendChild(document.createTextNode(line.slice(last))); }
    });
  }
  function who(msg) {
    if (msg.sender === "member") { return "You"; }
    if (msg.sender === "agent") { return (msg.agent_name || "Agent") + " (member services)"; }
    return "Assistant";
  }
  function timeLabel(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d.getTime())) { d = new Date(); }
    var t = el("time", "jecw-time", d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }));
    t.dateTime = d.toISOString();
    return t;
  }
  function render(msg, pending) {
    var item = el("div", "jecw-msg jecw-" + (msg.sender === "member" ? "member" : msg.sender === "agent" ? "agent" : "bot"));
    if (pending) { item.classList.add("jecw-pending"); }
    var meta = el("div", "jecw-meta");
    meta.appendChild(el("span", "jecw-who", who(msg)));
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(timeLabel(msg.at));
    var body = el("div", "jecw-text");
    appendText(body, msg.text);
    if (msg.image && /^https?:\/\//.test(msg.image)) {
      var img = el("img", "jecw-image");
      img.src = msg.image;
      img.alt = "Picture from the assistant";
      img.loading = "lazy";
      body.appendChild(img);
    }
    item.appendChild(meta);
    item.appendChild(body);
    log.appendChild(item);
    if (msg.buttons && msg.buttons.length) { showQuickReplies(msg.buttons); }
    else if (msg.sender !== "member") { clearQuickReplies(); }
    scrollDown();
    return item;
  }
  function showQuickReplies(buttons) {
    clearQuickReplies();
    quickBox = el("div", "jecw-quick");
    quickBox.setAttribute("role", "group");
    quickBox.setAttribute("aria-label", "Quick replies");
    buttons.forEach(function (b) {
      var btn = el("button", "jecw-chip", b.title);
      btn.type = "button";
      btn.addEventListener("click", function () {
        clearQuickReplies();
        sendMember(b.title, b.payload || null);
        input.focus();
      });
      quickBox.appendChild(btn);
    });
    log.appendChild(quickBox);
  }
  function clearQuickReplies() {
    if (quickBox && quickBox.parentNode) { quickBox.parentNode.removeChild(quickBox); }
    quickBox = null;
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function setTyping(on, name) {
    typingName.textContent = on && name ? " " + name + " is typing" : "";
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) { typingTimer = setTimeout(function () { typing.hidden = true; }, 20000); }
  }
  function setStatus(text) { status.textContent = text || ""; }

  // ---------------------------------------------------------------- protocol
  function sendMember(text, payload) {
    var item = { client_id: newClientId(), text: text, payload: payload };
    state.pending.push(item);
    typedHere[item.client_id] = true;
    saveState();
    byClientId[item.client_id] = render({ sender: "member", text: text }, true);
    if (!ws) { connect(); }  // after "End chat": a new conversation; sent on its welcome
    transmit(item);
  }
  function transmit(item) {
    if (ws && ws.readyState === 1 && ws.jecReady) {
      var frame = { type: "message", text: item.text, client_id: item.client_id };
      if (item.payload) { frame.payload = item.payload; }
      ws.send(JSON.stringify(frame));
    }
  }
  function onMessage(msg) {
    if (typeof msg.seq === "number") {
      if (bySeq[msg.seq]) { return; }
      if (msg.seq > lastSeq) { lastSeq = msg.seq; }
    }
    if (msg.sender === "member" && msg.client_id && byClientId[msg.client_id]) {
      var mine = byClientId[msg.client_id];
      mine.classList.remove("jecw-pending");
      var textNode = mine.querySelector(".jecw-text");
      if (textNode && msg.text) {  // show what was kept: masked if it held a card number
        while (textNode.firstChild) { textNode.removeChild(textNode.firstChild); }
        appendText(textNode, msg.text);
      }
      bySeq[msg.seq] = mine;
      return;
    }
    if (msg.sender !== "member") { setTyping(false); }
    var node = render(msg, false);
    bySeq[msg.seq] = node;
    if (msg.client_id) { byClientId[msg.client_id] = node; }
  }
  function onAck(frame) {
    state.pending = state.pending.filter(function (p) { return p.client_id !== frame.client_id; });
    saveState();
    var node = byClientId[frame.client_id];
    if (node) { node.classList.remove("jecw-pending"); if (frame.seq) { bySeq[frame.seq] = node; } }
  }
  function connect() {
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) { return; }
    var wsUrl = gateway.replace(/^http/, "ws") + "/ws";
    try { ws = new WebSocket(wsUrl); } catch (e) { scheduleReconnect(); return; }
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", token: state.token, last_seq: lastSeq }));
    };
    ws.onmessage = function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame.type === "welcome") {
        retry = 0;
        setStatus("");
        if (state.token && frame.token && frame.conversation_id && state.conversationId &&
            state.conversationId !== frame.conversation_id) { lastSeq = 0; }
        if (frame.reset === true) { resetTranscript(); }
        state.token = frame.token;
        state.conversationId = frame.conversation_id;
        saveState();
        ws.jecReady = true;
        state.pending.forEach(transmit);  // typed while offline, or not yet acknowledged
      } else if (frame.type === "message") { onMessage(frame); }
      else if (frame.type === "ack") { onAck(frame); }
      else if (frame.type === "typing") { setTyping(frame.active !== false, frame.name); }
    };
    ws.onclose = function () { ws = null; setTyping(false); scheduleReconnect(); };
    ws.onerror = function () { /* onclose follows */ };
  }
  function scheduleReconnect() {
    setStatus("Connection lost. Reconnecting\u2026 Messages you send now will be delivered.");
    var delay = Math.min(15000, 1000 * Math.pow(2, retry++));
    reconnectTimer = setTimeout(connect, delay);
  }
  window.addEventListener("online", function () { if (!ws) { connect(); } });

  // Pending messages from before a reload are shown again, then sent on connect.
  state.pending.forEach(function (p) { byClientId[p.client_id] = render({ sender: "member", text: p.text }, true); });
  if (state.token) { connect(); }  // a returning member: fetch the transcript right away
})();
