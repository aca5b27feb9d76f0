/* Service worker for the door check-in page (registered by static/js/checkin-offline.js with scope
   /manage/) and for a worker's tickets (registered by static/js/ticket-offline.js with scope
   /me/registrations/). It never touches other requests:
   - /static/ files: cache-first (their URLs carry a content hash, so a cached copy is never stale);
   - the check-in page itself (GET /manage/activities/<id>/checkin): network-first, falling back to the
     last copy when the network is down (a search URL falls back to the plain page). Only the plain page
     (no search, so no names in it) is stored;
   - a ticket page (GET /me/registrations/<id>): network-first; a copy is kept only when the server marks
     it X-Ticket-Offline-Until (a place in an activity not over yet), served offline until that time and
     dropped after it. ticket-offline.js deletes these copies once nobody is logged in. */
"use strict";
var CACHE = "door-v1";
var CHECKIN = /\/manage\/activities\/\d+\/checkin$/;
var TICKETS = "tickets-v1";
var TICKET = /\/me\/registrations\/\d+$/;
var UNTIL = "X-Ticket-Offline-Until";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE && k !== TICKETS; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        return hit || fetch(request).then(function (response) {
          if (response.ok) { cache.put(request, response.clone()); }
          return response;
        });
      });
    }));
    return;
  }
  if (TICKET.test(url.pathname) && !url.search) {
    var key = url.origin + url.pathname;
    event.respondWith(fetch(request).then(function (response) {
      caches.open(TICKETS).then(function (cache) {
        if (response.ok && !response.redirected && response.headers.get(UNTIL)) {
          return cache.put(key, response.clone());
        }
        return cache.delete(key);  /* no place any more, or logged out: no copy */
      });
      return response;
    }).catch(function () {
      return caches.open(TICKETS).then(function (cache) {
        return cache.match(key).then(function (hit) {
          if (!hit) { return Response.error(); }
          if (!(Date.parse(hit.headers.get(UNTIL)) > Date.now())) {  /* the activity is over */
            return cache.delete(key).then(function () { return Response.error(); });
          }
          return hit;
        });
      });
    }));
    return;
  }
  if (CHECKIN.test(url.pathname)) {
    var plain = url.origin + url.pathname;
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok && !url.search && !response.redirected) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(plain, copy); });
      }
      return response;
    }).catch(function () {
      return caches.open(CACHE).then(function (cache) {
        return cache.match(plain).then(function (hit) { return hit || Response.error(); });
      });
    }));
  }
});
