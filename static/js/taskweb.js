// Small behaviours for the chat page. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  function scrollDown(id) {
    var el = document.getElementById(id);
    if (el) { el.scrollTop = el.scrollHeight; }
  }
  document.addEventListener("htmx:wsAfterMessage", function () {
    scrollDown("transcript");
    scrollDown("trace");
  });
  // Clear the composer once its message went out.
  document.addEventListener("htmx:wsAfterSend", function (evt) {
    var form = evt.target && evt.target.closest ? evt.target.closest("#composer") : null;
    if (form) { form.reset(); }
  });
  // Enter sends, Shift+Enter makes a new line.
  document.addEventListener("keydown", function (evt) {
    var target = evt.target;
    if (evt.key === "Enter" && !evt.shiftKey && target && target.closest && target.closest("#composer")) {
      evt.preventDefault();
      target.closest("form").requestSubmit();
    }
  });
  // Each event is shown once: catch-up after a reconnect replays steps the page may have.
  var seen = new Set();
  function remember() {
    document.querySelectorAll("li.step[id^='step-']").forEach(function (el) {
      var parts = el.id.split("-");
      seen.add(parts[1] + ":" + parts[2]);
    });
    document.querySelectorAll("section.run[id^='run-']").forEach(function (el) {
      seen.add(el.id.split("-")[1] + ":1");
    });
  }
  document.addEventListener("htmx:wsBeforeMessage", function (evt) {
    var match = /^<!--event (\d+):(\d+)-->/.exec(evt.detail.message || "");
    if (!match) { return; }
    var key = match[1] + ":" + match[2];
    if (seen.has(key) || document.getElementById("step-" + match[1] + "-" + match[2])) {
      evt.preventDefault();
      return;
    }
    seen.add(key);
  });
  document.addEventListener("DOMContentLoaded", function () {
    remember();
    scrollDown("transcript");
    scrollDown("trace");
  });
})();
