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
  // A list marked `data-refresh="N"` reloads itself every N seconds: the page is fetched
  // again and the list swapped only when its version changed (focus and scroll stay).
  function refresh(box) {
    var every = parseInt(box.getAttribute("data-refresh"), 10) * 1000;
    if (!(every > 0)) { return; }
    var timer = window.setInterval(function () {
      if (document.hidden) { return; }
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (text) {
          if (!text) { return; }
          var next = new DOMParser().parseFromString(text, "text/html");
          var fresh = next.getElementById(box.id);
          var counts = next.querySelector("nav.counts");
          var shown = box.querySelector("[data-version]");
          var incoming = fresh && fresh.querySelector("[data-version]");
          if (!incoming || (shown && shown.getAttribute("data-version") === incoming.getAttribute("data-version"))) { return; }
          box.innerHTML = fresh.innerHTML;
          if (!fresh.hasAttribute("data-refresh")) {
            window.clearInterval(timer);
            box.removeAttribute("data-refresh");
            Array.prototype.forEach.call(fresh.attributes, function (a) { box.setAttribute(a.name, a.value); });
          }
          var old = document.querySelector("nav.counts");
          if (old && counts) { old.innerHTML = counts.innerHTML; }
        })
        .catch(function () { /* the next round tries again */ });
    }, every);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    var back = window.location.pathname + window.location.search;
    document.querySelectorAll("[data-lang-switch]").forEach(function (link) {
      link.href = link.href + "&back=" + encodeURIComponent(back);
    });
  });
})();
