// The live balance (docs/operate.md, "Live balance"): while the page is open and in view,
// ask the server for the header's balance, the banners and (on the dashboard) the cards
// every few seconds, and swap in each part whose HTML changed. The page works without
// this script: it shows the figures as they were when it loaded.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch || !window.DOMParser) { return; }
  var url = script.dataset.url;
  if (document.querySelector('[data-live="dashboard"]')) { url += "?part=dashboard"; }
  var every = Math.max(1, parseInt(script.dataset.every, 10) || 5) * 1000;
  var longest = 60 * 1000;
  var delay = every;
  var timer = null;
  var stopped = false;
  var busy = false;

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    fresh.querySelectorAll("[data-live]").forEach(function (part) {
      var shown = document.querySelector('[data-live="' + part.dataset.live + '"]');
      if (shown && shown.outerHTML !== part.outerHTML) {
        shown.replaceWith(document.importNode(part, true));
      }
    });
  }

  function schedule() {
    busy = false;
    if (!stopped && !document.hidden && timer === null) {
      timer = window.setTimeout(poll, delay);
    }
  }

  function poll() {
    timer = null;
    busy = true;
    // "manual": a redirect (to the login page, once the session ended) stops the polling
    // instead of swapping in a login form.
    fetch(url, {credentials: "same-origin", cache: "no-store", redirect: "manual",
                headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 403
            || response.status === 404) {
          stopped = true;
          return null;
        }
        if (!response.ok) { throw new Error("live: " + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) { swap(html); delay = every; }
      })
      .catch(function () { delay = Math.min(delay * 2, longest); })
      .then(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (timer !== null) { window.clearTimeout(timer); timer = null; }
    } else if (timer === null && !busy && !stopped) {
      poll();
    }
  });
  schedule();
})();
