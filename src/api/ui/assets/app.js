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
  // A box marked `data-refresh="N"` follows the page every N seconds: the page is fetched
  // again (one request at a time) and the box swapped only when its version changed, with
  // the status counts. A box fetched without `data-refresh` (a task that ended) is the
  // last one; an ended session or a failing server reloads the page (which says why).
  function refresh(box) {
    var every = parseInt(box.getAttribute("data-refresh"), 10) * 1000;
    if (!(every > 0)) { return; }
    function again() { window.setTimeout(round, every); }
    function round() {
      if (document.hidden) { again(); return; }
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          // Signed out, or the server failing: the page itself says so.
          if (r.redirected || r.status >= 500) { window.location.reload(); return null; }
          // A request the page's own URL makes refused (a filter gone bad): stop here.
          if (!r.ok) { return null; }
          return r.text();
        })
        .then(function (text) {
          if (text === null) { return; }
          var next = new DOMParser().parseFromString(text, "text/html");
          var fresh = next.getElementById(box.id);
          if (!fresh) { window.location.reload(); return; }
          var counts = next.querySelector("nav.counts");
          var old = document.querySelector("nav.counts");
          if (old && counts) { old.innerHTML = counts.innerHTML; }
          var shown = box.querySelector("[data-version]");
          var incoming = fresh.querySelector("[data-version]");
          if (incoming && !(shown && shown.getAttribute("data-version") === incoming.getAttribute("data-version"))) {
            box.innerHTML = fresh.innerHTML;
          }
          if (fresh.hasAttribute("data-refresh")) { again(); return; }
          box.removeAttribute("data-refresh");
          Array.prototype.forEach.call(fresh.attributes, function (a) { box.setAttribute(a.name, a.value); });
        })
        .catch(again);
    }
    again();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    var back = window.location.pathname + window.location.search;
    document.querySelectorAll("[data-lang-switch]").forEach(function (link) {
      link.href = link.href + "&back=" + encodeURIComponent(back);
    });
  });
})();
