/* A worker's tickets without signal (issue 19). On the ticket page and on 我的活动 this registers
   static/sw.js for /me/registrations/ (the worker keeps a copy of each ticket the server marks as
   usable offline: a place in an activity not over yet) and saves each upcoming ticket named on the
   page ([data-offline-ticket-url]) before the rider reaches the venue. On a page seen logged out (after a logout, or a
   session that ended) it deletes those copies and the registration: nothing personal stays on the
   phone. Without JavaScript the pages work as before, online only. */
(function () {
  "use strict";
  var TICKETS = "tickets-v1";
  var marker = document.querySelector("[data-ticket-offline]");
  var sw = navigator.serviceWorker;
  if (!sw || !window.isSecureContext || !window.caches) { return; }
  if (!marker) { return; }
  var scope = marker.getAttribute("data-sw-scope");
  if (marker.getAttribute("data-ticket-offline") === "forget") {
    caches.delete(TICKETS);
    sw.getRegistrations().then(function (registrations) {
      registrations.forEach(function (registration) {
        if (new URL(registration.scope).pathname === scope) { registration.unregister(); }
      });
    });
    return;
  }
  /* Saved from the page itself (a page is not controlled by a worker registered during its own load);
     the worker serves these copies when the network is down, and refreshes them when it is not. */
  function save(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok || response.redirected || !response.headers.get("X-Ticket-Offline-Until")) { return null; }
      return caches.open(TICKETS).then(function (cache) { return cache.put(new URL(url, location.href).href, response); });
    }).catch(function () { /* offline now: keep what is saved */ });
  }
  sw.register(marker.getAttribute("data-sw-url"), { scope: scope }).then(function () {
    var urls = Array.prototype.map.call(document.querySelectorAll("[data-offline-ticket-url]"), function (el) {
      return el.getAttribute("data-offline-ticket-url");
    });
    return Promise.all(urls.map(save));
  }).then(function () { marker.setAttribute("data-tickets-saved", "true"); })
    .catch(function () { /* no service worker: the ticket works online only */ });
})();
