// Small behaviours for the chat page. No inline scripts anywhere (the CSP forbids them), no
// innerHTML of anything: model and user text only ever reach the page through the server's
// sanitised fragments; this file moves, hides and copies what is already there.
(function () {
  "use strict";
  var NEAR_BOTTOM_PX = 80;
  var state = { pending: false, pendingTimer: null, stickTranscript: true, stickTrace: true,
                runs: 0, closedOnce: false, backTimer: null };

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function composerText() { return $("#composer textarea"); }
  function conversationId() { var c = $("[data-conversation]"); return c ? c.getAttribute("data-conversation") : ""; }
  function draftKey() { return "taskweb:draft:" + conversationId(); }
  function nearBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX; }
  function toBottom(el) { if (el) { el.scrollTop = el.scrollHeight; } }

  // -- drafts: a message stays in the composer (and in localStorage) until the server takes it
  function saveDraft() {
    var t = composerText();
    if (!t || !conversationId()) { return; }
    try {
      if (t.value) { localStorage.setItem(draftKey(), t.value); } else { localStorage.removeItem(draftKey()); }
    } catch (e) { /* storage full or disabled: the textarea still holds it */ }
  }
  function restoreDraft() {
    var t = composerText();
    if (!t || t.value) { return; }
    try { t.value = localStorage.getItem(draftKey()) || ""; } catch (e) { /* ignore */ }
  }
  // Between Send and the server's answer the button says so (the draft is still there).
  function setPending(pending) {
    state.pending = pending;
    clearTimeout(state.pendingTimer);
    var send = $("#send-button");
    if (send) { send.disabled = pending; send.textContent = pending ? "Sending…" : "Send"; }
    if (pending) { state.pendingTimer = setTimeout(function () { setPending(false); }, 15000); }
  }
  function accepted() {
    var t = composerText();
    setPending(false);
    if (t) { t.value = ""; saveDraft(); }
    var notices = $("#notices");
    if (notices) { notices.textContent = ""; }
  }

  // -- run state: Send becomes Stop while a run of this conversation is live
  function liveRun() { return $("#trace .run-summary[data-status=running]"); }
  function syncRunState() {
    var live = !!liveRun();
    var send = $("#send-button"), cancel = $("#cancel-form");
    if (send) { send.hidden = live; }
    if (cancel) { cancel.hidden = !live; }
    $all(".msg.streaming[data-run]").forEach(function (bubble) {
      var summary = $("#run-" + bubble.getAttribute("data-run") + "-summary");
      var status = summary ? summary.getAttribute("data-status") : "running";
      if (status !== "running") {
        bubble.classList.remove("streaming");
        bubble.classList.add("stopped");
        var role = $(".msg-role", bubble);
        if (role) { role.classList.remove("typing"); role.textContent = "Agent · stopped (" + status + ")"; }
      }
    });
  }

  // -- trace: newest run in view, finished runs folded, filter, problem marks
  function markProblems() {
    $all("#trace .run").forEach(function (run) {
      if ($(".step-retry, .step-fallback, .step-error", run)) { run.classList.add("has-problems"); }
    });
  }
  function foldFinishedRuns() {
    var runs = $all("#trace .run");
    if (runs.length > state.runs && state.runs > 0) {
      runs.slice(0, -1).forEach(function (run) {
        var s = $(".run-summary", run);
        if (s && s.getAttribute("data-status") !== "running") { run.open = false; }
      });
    }
    state.runs = runs.length;
  }
  function showNewestRun() {
    var panel = $(".trace-panel"), runs = $all("#trace .run");
    if (!panel || !runs.length) { return; }
    var last = runs[runs.length - 1];
    var offset = last.getBoundingClientRect().top - panel.getBoundingClientRect().top;
    panel.scrollTop += offset - 8;
  }

  // -- task panel: a run's task tools send the rows they change (appended to the list, each
  // with its place as data-order); the newest row of an id replaces older ones, a deleted
  // task's marker removes its row, and the list is put back in order, as a reload shows it.
  function settleTasks() {
    var list = $("#task-list");
    if (!list) { return; }
    var seen = {};
    $all("li[id]", list).reverse().forEach(function (row) {
      if (seen[row.id] || row.classList.contains("task-gone")) { row.remove(); }
      seen[row.id] = true;
    });
    var rows = $all("li.task", list);
    var key = function (row) { return row.getAttribute("data-order") || ""; };
    var sorted = rows.slice().sort(function (a, b) { return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0; });
    if (sorted.some(function (row, i) { return row !== rows[i]; })) {
      sorted.forEach(function (row) { list.appendChild(row); });
    }
  }

  // -- finished answers: timestamps, copy buttons for code, announced once to screen readers
  function decorate() {
    $all("#transcript .md pre").forEach(function (pre) {
      if ($(".copy-button", pre)) { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      button.setAttribute("data-copy", "code");
      button.setAttribute("aria-label", "Copy code");
      button.textContent = "Copy";
      pre.appendChild(button);
    });
    $all("time.msg-time[datetime]").forEach(function (t) {
      if (t.getAttribute("data-local")) { return; }
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
      t.setAttribute("data-local", "1");
    });
    $all("#transcript .msg.just-finished").forEach(function (msg) {
      msg.classList.remove("just-finished");
      var head = $(".msg-head", msg);
      if (head && !$("time", head)) {
        var t = document.createElement("time");
        var now = new Date();
        t.className = "msg-time";
        t.setAttribute("datetime", now.toISOString());
        t.setAttribute("data-local", "1");
        t.textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        head.insertBefore(t, $(".copy-button", head));
      }
      var announcer = $("#announcer"), body = $(".msg-body", msg);
      if (announcer && body) { announcer.textContent = "Agent: " + body.innerText.slice(0, 600); }
    });
  }

  function copyText(text, button) {
    function done() {
      var before = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = before; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { /* denied */ });
      return;
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* nothing to copy with */ }
    area.remove();
  }

  // -- drawers (phone and tablet): conversations and trace slide over the chat
  function setDrawer(id, open) {
    var drawer = document.getElementById(id);
    if (!drawer) { return; }
    drawer.classList.toggle("open", open);
    $all(".drawer-toggle[data-drawer=" + id + "]").forEach(function (b) { b.setAttribute("aria-expanded", String(open)); });
    var scrim = $("[data-drawer-scrim]");
    if (scrim) { scrim.classList.toggle("open", !!$(".sidebar.open, .trace-panel.open")); }
    if (open) {
      var first = $(".drawer-close", drawer);
      if (first) { first.focus(); }
      if (id === "trace-panel") { showNewestRun(); }
    } else {
      var toggle = $(".drawer-toggle[data-drawer=" + id + "]");
      if (toggle && drawer.contains(document.activeElement)) { toggle.focus(); }
    }
  }
  function closeDrawers() { $all(".sidebar.open, .trace-panel.open").forEach(function (d) { setDrawer(d.id, false); }); }

  document.addEventListener("click", function (evt) {
    var target = evt.target;
    if (!target || !target.closest) { return; }
    var toggle = target.closest(".drawer-toggle, .drawer-close");
    if (toggle) {
      var id = toggle.getAttribute("data-drawer");
      setDrawer(id, toggle.classList.contains("drawer-toggle") && !document.getElementById(id).classList.contains("open"));
      return;
    }
    if (target.closest("[data-drawer-scrim]")) { closeDrawers(); return; }
    var copy = target.closest("[data-copy]");
    if (copy) {
      var source = copy.getAttribute("data-copy") === "code" ? $("code", copy.closest("pre")) : $(".msg-body", copy.closest(".msg"));
      if (source) { copyText(source.innerText, copy); }
      return;
    }
    if (target.closest("#jump-latest")) {
      var transcript = $("#transcript");
      toBottom(transcript);
      state.stickTranscript = true;
      target.closest("#jump-latest").hidden = true;
      if (composerText()) { composerText().focus(); }
    }
  });

  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") { closeDrawers(); return; }
    var target = evt.target;
    // Enter sends, Shift+Enter makes a new line; never while an IME is composing a character.
    if (evt.key !== "Enter" || evt.shiftKey || evt.isComposing || evt.keyCode === 229) { return; }
    if (!target || !target.closest || !target.closest("#composer") || target.tagName !== "TEXTAREA") { return; }
    evt.preventDefault();
    if (liveRun() || !target.value.trim()) { return; }
    target.closest("form").requestSubmit();
  });

  document.addEventListener("input", function (evt) {
    if (evt.target && evt.target.closest && evt.target.closest("#composer")) { saveDraft(); }
    if (evt.target && evt.target.id === "conversation-search") { filterConversations(evt.target.value); }
  });

  document.addEventListener("change", function (evt) {
    if (evt.target && evt.target.id === "trace-filter") {
      var trace = $("#trace");
      if (trace) { trace.classList.toggle("only-problems", evt.target.checked); }
    }
  });

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { evt.preventDefault(); }
  }, true);

  // Search as you type among the titles shown; Enter searches the messages too (server side).
  function filterConversations(text) {
    var needle = text.trim().toLowerCase();
    $all("#conversation-list li[id]").forEach(function (li) {
      li.hidden = needle !== "" && li.textContent.toLowerCase().indexOf(needle) < 0;
    });
  }

  // -- the websocket: what the server said, and whether we are connected
  document.addEventListener("htmx:wsBeforeSend", function (evt) {
    if (evt.target && evt.target.id === "composer") { setPending(true); }
  });
  document.addEventListener("htmx:wsBeforeMessage", function () {
    var transcript = $("#transcript"), panel = $(".trace-panel");
    state.stickTranscript = !transcript || nearBottom(transcript);
    state.stickTrace = !panel || nearBottom(panel);
  });
  document.addEventListener("htmx:wsAfterMessage", function (evt) {
    var message = String((evt.detail && evt.detail.message) || "");
    var started = message.indexOf('id="trace" hx-swap-oob="beforeend"') >= 0;
    if (state.pending && message.indexOf('class="notice error"') >= 0) {
      setPending(false);  // refused: the draft stays where it is
    }
    if (started && state.pending) {
      accepted();
      state.stickTranscript = true;
    }
    if (message.indexOf('id="task-list"') >= 0) { settleTasks(); }
    decorate();
    markProblems();
    foldFinishedRuns();
    syncRunState();
    var transcript = $("#transcript"), jump = $("#jump-latest");
    if (state.stickTranscript) { toBottom(transcript); }
    if (jump && transcript) { jump.hidden = nearBottom(transcript); }
    if (started) { showNewestRun(); } else if (state.stickTrace) { toBottom($(".trace-panel")); }
  });

  function banner(text, back) {
    var el = $("#connection");
    if (!el) { return; }
    clearTimeout(state.backTimer);
    el.textContent = text;
    el.classList.toggle("back", !!back);
    el.hidden = !text;
    if (back) { state.backTimer = setTimeout(function () { el.hidden = true; }, 2500); }
  }
  document.addEventListener("htmx:wsClose", function () {
    state.closedOnce = true;
    banner("Connection lost — reconnecting…");
  });
  document.addEventListener("htmx:wsError", function () {
    if (state.closedOnce) { banner("Still reconnecting…"); }
  });
  document.addEventListener("htmx:wsOpen", function () {
    if (state.closedOnce) { banner("Back online", true); }
  });

  // Circuit badges count down to the retry instead of showing a stale time.
  function tickCircuits() {
    $all(".circuit-words[data-until]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-until")) - Date.now()) / 1000);
      var tail = el.textContent.indexOf(" · ") >= 0 ? el.textContent.slice(el.textContent.indexOf(" · ")) : "";
      el.textContent = (left > 0 ? "skipped for now, retried in " + left + " s" : "tried again on the next message") + tail;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var transcript = $("#transcript");
    tickCircuits();
    setInterval(tickCircuits, 5000);
    restoreDraft();
    decorate();
    markProblems();
    state.runs = $all("#trace .run").length;
    syncRunState();
    toBottom(transcript);
    showNewestRun();
    if (transcript) {
      transcript.addEventListener("scroll", function () {
        var jump = $("#jump-latest");
        if (jump && nearBottom(transcript)) { jump.hidden = true; }
      });
    }
  });
  // Reconnect after the last step this page has: every stored step's fragment moves
  // #ws-cursor, and the ws extension asks htmx.createWebSocket for each (re)connection.
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.htmx || !htmx.createWebSocket) { return; }
    var make = htmx.createWebSocket;
    htmx.createWebSocket = function (url) {
      var cursor = document.getElementById("ws-cursor");
      var step = cursor ? cursor.getAttribute("data-step") : null;
      if (step && /^\d+$/.test(step)) { url = url.replace(/([?&]after_step=)\d*/, "$1" + step); }
      return make(url);
    };
  });
})();
