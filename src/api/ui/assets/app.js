// devicekb staff workspace: keyboard shortcuts and the language switch. The pages work
// without it; it only saves keystrokes.
(function () {
  "use strict";
  function results() { return Array.prototype.slice.call(document.querySelectorAll("[data-result]")); }
  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var box = document.querySelector("[data-search-box]");
    if (event.key === "/" && !typing(event.target) && box) {
      event.preventDefault();
      box.focus();
      box.select();
      return;
    }
    var list = results();
    if (!list.length) { return; }
    var at = list.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && (at >= 0 || event.target === box)) {
      event.preventDefault();
      list[Math.min(at + 1, list.length - 1)].focus();
    } else if (event.key === "ArrowUp" && at >= 0) {
      event.preventDefault();
      if (at === 0 && box) { box.focus(); } else { list[at - 1].focus(); }
    } else if (event.key === "Enter" && at >= 0) {
      event.preventDefault();
      var details = list[at].querySelector("details");
      if (details) { details.open = !details.open; }
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var back = window.location.pathname + window.location.search;
    document.querySelectorAll("[data-lang-switch]").forEach(function (link) {
      link.href = link.href + "&back=" + encodeURIComponent(back);
    });
  });
})();
