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
  document.addEventListener("DOMContentLoaded", function () {
    scrollDown("transcript");
    scrollDown("trace");
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
