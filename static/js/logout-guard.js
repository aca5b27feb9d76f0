/* Logout on a shared phone: no door data left behind, no check-in lost (docs/deploy.md, section 9).
   The door page (checkin-offline.js) keeps rosters ("door-roster-<id>") and offline check-ins
   ("door-queue-<id>") in localStorage, its service worker a page cache. A check-in still waiting to be
   sent stops the logout with a warning (discarding is offered only online: logging out needs the
   server); offline with nothing waiting it is stopped too, so the door keeps working. Otherwise the door
   keys, caches and service worker are removed, then the form posts. The answer's Clear-Site-Data header
   does the same where honoured; this covers the rest. Without JavaScript the form posts as usual.
   A session can also just end (12 h, or ended from another device) with no logout on this phone: so on
   every organiser page load, rosters past their "keep_until" (the activity's end plus a grace period,
   sent by the server), or without one and fetched over 24 h ago, are removed too; a queue goes with its
   roster only when none of its check-ins is still waiting to be sent. */
(function () {
  "use strict";
  var ROSTER = "door-roster-";
  var QUEUE = "door-queue-";
  var DAY_MS = 24 * 60 * 60 * 1000;

  function store() {
    try { return window.localStorage || null; } catch (e) { return null; }  /* storage blocked */
  }
  function doorKeys(ls) {
    var keys = [];
    for (var i = 0; i < ls.length; i += 1) {
      var key = ls.key(i);
      if (key && (key.indexOf(ROSTER) === 0 || key.indexOf(QUEUE) === 0)) { keys.push(key); }
    }
    return keys;
  }
  function read(ls, key) {
    try { return JSON.parse(ls.getItem(key)); } catch (e) { return null; }
  }
  function pendingCount(items) {
    return Array.isArray(items) ? items.filter(function (item) { return item && item.status === "pending"; }).length : 0;
  }
  /* The server's UTC ISO time (microseconds cut to milliseconds, which every browser parses); NaN if none. */
  function time(text) {
    return typeof text === "string" ? Date.parse(text.replace(/(\.\d{3})\d+/, "$1")) : NaN;
  }
  function expired(roster, nowMs) {
    if (!roster || typeof roster !== "object") { return true; }  /* unreadable: of no use to the door page */
    var until = time(roster.keep_until);
    if (!isNaN(until)) { return until <= nowMs; }
    var fetched = time(roster.fetched_at);  /* a copy saved before rosters carried keep_until */
    return isNaN(fetched) || nowMs - fetched > DAY_MS;
  }
  /* Remove expired rosters, and queues left with nothing waiting and no roster. Never a waiting check-in. */
  function sweep(ls) {
    var nowMs = Date.now();
    doorKeys(ls).forEach(function (key) {
      if (key.indexOf(ROSTER) === 0 && expired(read(ls, key), nowMs)) { ls.removeItem(key); }
    });
    doorKeys(ls).forEach(function (key) {
      if (key.indexOf(QUEUE) === 0 && ls.getItem(ROSTER + key.slice(QUEUE.length)) === null &&
          !pendingCount(read(ls, key))) { ls.removeItem(key); }
    });
  }
  (function () {
    var ls = store();
    if (ls) { try { sweep(ls); } catch (e) { /* storage trouble: try again on the next page */ } }
  })();

  var form = document.querySelector("form[data-logout-guard]");
  if (!form) { return; }
  var t = function (key) { return form.getAttribute("data-t-" + key) || ""; };
  /* How many check-ins wait to be sent, and the first activity they belong to. */
  function waiting(ls) {
    var found = { count: 0, activityId: null };
    doorKeys(ls).forEach(function (key) {
      if (key.indexOf(QUEUE) !== 0) { return; }
      var n = pendingCount(read(ls, key));  /* unreadable: none (the door page ignores it too) */
      if (n && found.activityId === null) { found.activityId = key.slice(QUEUE.length); }
      found.count += n;
    });
    return found;
  }

  function clearPhone(ls) {
    if (ls) { doorKeys(ls).forEach(function (key) { ls.removeItem(key); }); }
    if (!window.Promise) { return null; }
    var jobs = [];
    if (window.caches && caches.keys) {
      jobs.push(caches.keys().then(function (names) {
        return Promise.all(names.map(function (name) { return caches.delete(name); }));
      }));
    }
    if (navigator.serviceWorker && navigator.serviceWorker.getRegistrations) {
      jobs.push(navigator.serviceWorker.getRegistrations().then(function (registrations) {
        return Promise.all(registrations.map(function (r) { return r.unregister(); }));
      }));
    }
    /* never hold the logout up for long */
    return Promise.race([Promise.all(jobs), new Promise(function (done) { setTimeout(done, 1500); })]);
  }

  var leaving = false;
  function logOut(ls) {
    if (leaving) { return; }
    leaving = true;
    var post = function () { HTMLFormElement.prototype.submit.call(form); };
    var clearing = clearPhone(ls);
    if (clearing) { clearing.then(post, post); } else { post(); }
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function warn(ls, found) {
    var old = document.getElementById("logout-guard");
    if (old) { old.parentNode.removeChild(old); }
    var online = navigator.onLine !== false;
    var box = el("section", "logout-guard flash flash-error");
    box.id = "logout-guard";
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    if (!found.count) {
      box.appendChild(el("p", "", t("offline")));
    } else {
      var count = String(found.count);
      box.appendChild(el("p", "logout-guard-count",
        t(found.count === 1 ? "waiting-one" : "waiting-other").replace("{count}", count)));
      box.setAttribute("data-waiting", count);
      box.appendChild(el("p", "", t("how")));
      var doorUrl = form.getAttribute("data-door-url");
      if (doorUrl && /^\d+$/.test(found.activityId)) {
        var link = el("a", "button primary", t("open"));
        link.href = doorUrl.replace("{id}", found.activityId);
        var row = el("p", "logout-guard-actions");
        row.appendChild(link);
        box.appendChild(row);
      }
      if (online) {
        box.appendChild(el("p", "", t("lost")));
        var discard = el("button", "button danger", t("discard"));
        discard.type = "button";
        discard.setAttribute("data-logout-discard", "");
        discard.addEventListener("click", function () { logOut(ls); });
        var last = el("p", "logout-guard-actions");
        last.appendChild(discard);
        box.appendChild(last);
      }
    }
    var main = document.getElementById("main") || document.body;
    main.insertBefore(box, main.firstChild);
    box.focus();
  }

  form.addEventListener("submit", function (event) {
    var ls = store();
    if (!ls) { return; }  /* no storage here: nothing to keep or to clear */
    event.preventDefault();
    var found = waiting(ls);
    if (found.count || navigator.onLine === false) { warn(ls, found); return; }
    logOut(ls);
  });
})();
