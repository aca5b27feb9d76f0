/* Door check-in that survives a dropped network (progressive enhancement: without this script the
   page works as an ordinary form page).
   - Keeps this activity's roster on the phone (localStorage): ticket digests, names, last four digits
     and states only — never ticket codes or full mobile numbers.
   - While offline, the search form and the "Check in" buttons work on that copy; each check-in is
     stored with a UUID made here and listed as waiting.
   - When the network returns, waiting check-ins are sent one by one (JSON + CSRF header). The server
     treats the same UUID twice as one check-in, so a resend after a lost answer is harmless; a refusal
     (e.g. the registration was cancelled meanwhile) is shown in the list.
   - Registers the service worker (scope /manage/) that keeps the page and its files for offline use.
   - The roster is kept with the server's "keep_until"; logout-guard.js removes it after that. If the
     roster fetch or a sync is answered by the login page (the session ended: 12 h, or ended from another
     device), every saved roster is removed at once; check-ins waiting to be sent are kept for after the
     next login, and the status line says so. */
(function () {
  "use strict";
  var box = document.getElementById("offline-door");
  if (!box || !window.localStorage || !window.fetch || !window.JSON) { return; }
  var t = function (key) { return box.getAttribute("data-t-" + key) || ""; };
  var activityId = box.getAttribute("data-activity-id");
  /* logout-guard.js reads these keys (and the queue items' "pending" status) to keep a logout from
     discarding check-ins not yet sent: rename them there too. */
  var ROSTER_PREFIX = "door-roster-";
  var QUEUE_PREFIX = "door-queue-";
  var ROSTER_KEY = ROSTER_PREFIX + activityId;
  var QUEUE_KEY = QUEUE_PREFIX + activityId;
  var statusEl = box.querySelector("[data-offline-status]");
  var resultsEl = document.querySelector("[data-offline-results]");
  var pendingBox = box.querySelector("[data-pending-box]");
  var pendingList = box.querySelector("[data-pending-list]");
  var searchForm = document.querySelector("form[data-door-search]");
  var syncing = false;
  var lastSearch = "";
  var sentSome = false;
  var sessionEnded = false;
  var rosterFetched = false;

  function load(key, fallback) {
    try { var v = JSON.parse(localStorage.getItem(key)); return v === null ? fallback : v; }
    catch (e) { return fallback; }
  }
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* storage full: keep going */ }
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function roster() { return load(ROSTER_KEY, null); }
  function queue() { return load(QUEUE_KEY, []); }
  /* The check-ins of a stored list still waiting to be sent (an unreadable list has none). */
  function pendingItems(items) {
    return Array.isArray(items) ? items.filter(function (item) { return item && item.status === "pending"; }) : [];
  }

  function showCount() {
    var r = roster();
    var counter = document.querySelector(".door-count");
    if (!r || !counter) { return; }
    /* Online, the count the server drew is fresher than a copy saved before this page (a check-in just
       made would show as not yet done) until this page has fetched the roster itself. */
    if (navigator.onLine && !rosterFetched) { return; }
    var done = 0, total = 0;
    r.rows.forEach(function (row) {
      if (row.state === "attended") { done += 1; }
      if (row.state === "attended" || row.state === "confirmed") { total += 1; }
    });
    counter.textContent = t("count").replace("{done}", String(done)).replace("{total}", String(total));
  }

  function showStatus() {
    showCount();
    if (sessionEnded) { statusEl.textContent = t("ended"); return; }
    var r = roster();
    var text = navigator.onLine ? t("online") : t("offline");
    if (r) { text += " " + t("saved").replace("{count}", String(r.rows.length)); }
    statusEl.textContent = text;
    box.classList.toggle("is-offline", !navigator.onLine);
  }

  function renderQueue() {
    var items = queue();
    pendingList.textContent = "";
    items.forEach(function (item) {
      var li = el("li", "pending-item pending-" + item.status);
      li.setAttribute("data-client-id", item.client_id);
      li.appendChild(el("strong", "", item.name));
      var label = item.status === "sent" ? t("sent") : item.status === "conflict" ? t("conflict") : t("pending");
      li.appendChild(el("span", "pending-state", label));
      if (item.message) { li.appendChild(el("span", "pending-message", item.message)); }
      pendingList.appendChild(li);
    });
    pendingBox.hidden = items.length === 0;
  }

  /* The answer of a session that has ended: the server redirects to the login page (fetch follows it),
     or says 401. */
  function loginAnswer(response) {
    if (response.status === 401) { return true; }
    if (!response.redirected) { return false; }
    try { return new URL(response.url).pathname === box.getAttribute("data-login-path"); }
    catch (e) { return false; }
  }

  /* Logged out by the server: no names stay on the phone (every activity's roster, and the lists with
     nothing waiting); check-ins waiting to be sent stay, to be sent after the next login. */
  function endSession() {
    sessionEnded = true;
    var keys = [];
    for (var i = 0; i < localStorage.length; i += 1) { keys.push(localStorage.key(i)); }
    keys.forEach(function (key) {
      if (!key) { return; }
      if (key.indexOf(ROSTER_PREFIX) === 0) { localStorage.removeItem(key); return; }
      if (key.indexOf(QUEUE_PREFIX) === 0 && !pendingItems(load(key, [])).length) { localStorage.removeItem(key); }
    });
    resultsEl.textContent = "";
    box.removeAttribute("data-roster-ready");
    box.setAttribute("data-session-ended", "true");
    renderQueue();
    showStatus();
  }

  function fetchRoster() {
    return fetch(box.getAttribute("data-roster-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (loginAnswer(r)) { endSession(); throw new Error("roster: the session ended"); }
        if (!r.ok) { throw new Error("roster " + r.status); }
        return r.json();
      })
      .then(function (data) {
        if (!data || !data.rows) { throw new Error("roster: not a roster"); }
        /* keep what this phone checked in but has not sent yet */
        var waiting = {};
        pendingItems(queue()).forEach(function (q) { waiting[q.registration_id] = true; });
        data.rows.forEach(function (row) { if (waiting[row.registration_id]) { row.state = "attended"; row.local = true; } });
        sessionEnded = false;
        box.removeAttribute("data-session-ended");
        save(ROSTER_KEY, data);
        rosterFetched = true;
        box.setAttribute("data-roster-ready", "true");
        showStatus();
      });
  }

  function search(text) {
    lastSearch = text || "";
    var r = roster();
    var needle = (text || "").trim().toLowerCase();
    resultsEl.textContent = "";
    if (!r || !needle) { return; }
    var hits = r.rows.filter(function (row) {
      return row.name.toLowerCase().indexOf(needle) !== -1 || row.mobile_last4 === needle;
    }).slice(0, 30);
    if (!hits.length) { resultsEl.appendChild(el("p", "empty", t("nomatch"))); return; }
    var ul = el("ul", "door-list");
    hits.forEach(function (row) {
      var li = el("li", "door-card state-" + row.state);
      var who = el("div", "door-person");
      who.appendChild(el("strong", "", row.name));
      who.appendChild(el("span", "", "*" + row.mobile_last4));
      who.appendChild(el("span", "state state-" + row.state, row.local ? t("pending") : row.state_title));
      li.appendChild(who);
      if (row.state === "confirmed" || row.state === "no_show") {
        var button = el("button", "button primary big", t("checkin") + " ");
        button.type = "button";
        button.appendChild(el("span", "visually-hidden", row.name));
        button.addEventListener("click", function () { recordLocal(row); search(text); });
        li.appendChild(button);
      } else if (row.state === "attended") {
        if (!row.local) { li.appendChild(el("p", "door-refusal", t("already"))); }
      } else {
        li.appendChild(el("p", "door-refusal", t("cannot")));
      }
      ul.appendChild(li);
    });
    resultsEl.appendChild(ul);
  }

  function recordLocal(row, overrideReason) {
    var items = queue();
    var item = { client_id: uuid(), registration_id: row.registration_id, name: row.name,
                 at: new Date().toISOString(), status: "pending" };
    /* the door page's "check in anyway" form (outside the check-in time) carries the organiser's reason */
    if (overrideReason) { item.override_reason = overrideReason; }
    items.push(item);
    save(QUEUE_KEY, items);
    box.removeAttribute("data-synced");
    var r = roster();
    if (r) {
      r.rows.forEach(function (x) { if (x.registration_id === row.registration_id) { x.state = "attended"; x.local = true; } });
      save(ROSTER_KEY, r);
    }
    row.state = "attended"; row.local = true;
    renderQueue();
    showCount();
    if (navigator.onLine) { sync(); }
  }

  function setItem(clientId, changes, serverState) {
    var items = queue();
    var regId = null;
    items.forEach(function (item) {
      if (item.client_id === clientId) {
        Object.keys(changes).forEach(function (k) { item[k] = changes[k]; });
        regId = item.registration_id;
      }
    });
    save(QUEUE_KEY, items);
    var r = roster();
    if (r && regId !== null) {
      r.rows.forEach(function (x) {
        if (x.registration_id === regId) {
          x.local = false;
          if (serverState) { x.state = serverState.state; x.state_title = serverState.title; }
        }
      });
      save(ROSTER_KEY, r);
    }
    renderQueue();
    showCount();
    if (lastSearch && resultsEl.firstChild) { search(lastSearch); }
  }

  function sync() {
    if (syncing) { return; }
    var next = pendingItems(queue())[0];
    if (!next) {
      if (sentSome && navigator.onLine) {
        /* everything is sent: take the server's roster again (states changed by others, refusals) */
        sentSome = false;
        fetchRoster().then(function () { if (lastSearch && resultsEl.firstChild) { search(lastSearch); } })
          .catch(function () {}).then(function () { box.setAttribute("data-synced", "true"); });
        return;
      }
      box.setAttribute("data-synced", "true");
      return;
    }
    syncing = true;
    sentSome = true;
    box.removeAttribute("data-synced");
    fetch(box.getAttribute("data-sync-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": box.getAttribute("data-csrf") },
      /* recorded_at: the server judges the check-in window at the time it was made at the door */
      body: JSON.stringify({ client_id: next.client_id, registration_id: next.registration_id, recorded_at: next.at,
                             override_reason: next.override_reason || undefined })
    }).then(function (response) {
      if (loginAnswer(response)) { endSession(); throw new Error("sync: the session ended"); }
      /* 400: the CSRF token was refused, as when the session behind it is gone; the roster fetch tells */
      if (response.status === 400) { fetchRoster().catch(function () {}); throw new Error("sync 400"); }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok && data.status === "ok") {
          setItem(next.client_id, { status: "sent", message: "" },
                  { state: data.state, title: data.state_title });
        } else if (response.status > 400 && response.status < 500) {
          setItem(next.client_id, { status: "conflict", message: data.message || "" }, null);
        } else {
          /* server trouble: try again later */
          throw new Error("sync " + response.status);
        }
      });
    }).then(function () {
      syncing = false;
      sync();
    }).catch(function () {
      syncing = false; /* still offline, the server is down or the session ended: keep it waiting */
    });
  }

  /* While offline the search and the server-drawn "Check in" buttons use the saved roster. */
  if (searchForm) {
    searchForm.addEventListener("submit", function (event) {
      if (navigator.onLine || !roster()) { return; }
      event.preventDefault();
      search(searchForm.querySelector("input[name=q]").value);
    });
  }
  document.addEventListener("submit", function (event) {
    if (navigator.onLine || !roster()) { return; }
    var match = (event.target.getAttribute("action") || "").match(/\/checkin\/(\d+)$/);
    if (!match) { return; }
    event.preventDefault();
    var id = parseInt(match[1], 10);
    var row = roster().rows.filter(function (x) { return x.registration_id === id; })[0];
    var reason = event.target.querySelector("[name=override_reason]");
    if (reason && !reason.value.trim()) { return; } /* the server refuses a blank reason; keep the form */
    if (row && (row.state === "confirmed" || row.state === "no_show")) { recordLocal(row, reason ? reason.value.trim() : ""); }
    event.target.hidden = true;
  });

  /* The door kit's full-screen verdict (checkin-scan.js listens), for a ticket judged on this phone. */
  function verdict(outcome, name, message) {
    document.dispatchEvent(new CustomEvent("door-verdict", { detail: { outcome: outcome, name: name, message: message } }));
  }

  /* A typed (or scanned) ticket code while offline: found in the saved roster by its SHA-256 digest. */
  var ticketForm = document.getElementById("ticket-form");
  if (ticketForm && window.crypto && crypto.subtle && window.TextEncoder) {
    ticketForm.addEventListener("submit", function (event) {
      if (navigator.onLine || !roster()) { return; }
      event.preventDefault();
      var input = ticketForm.querySelector("input[name=token]");
      var code = (input.value || "").trim();
      if (!code) { return; }
      crypto.subtle.digest("SHA-256", new TextEncoder().encode(code)).then(function (buffer) {
        var hex = Array.prototype.map.call(new Uint8Array(buffer), function (x) {
          return (x + 0x100).toString(16).slice(1);
        }).join("");
        var row = roster().rows.filter(function (x) { return x.token_digest === hex; })[0];
        resultsEl.textContent = "";
        if (!row) {
          resultsEl.appendChild(el("p", "empty", t("nomatch")));
          verdict("refused", "", t("nomatch"));
          return;
        }
        if (row.state === "confirmed" || row.state === "no_show") {
          recordLocal(row);
          input.value = "";
          verdict("admitted", row.name, t("pending"));
        } else {
          var why = row.state === "attended" ? t("already") : t("cannot");
          resultsEl.appendChild(el("p", "door-refusal", row.name + ": " + why));
          verdict(row.state === "attended" ? "already" : "refused", row.name, why);
        }
      });
    });
  }

  window.addEventListener("online", function () { showStatus(); sync(); fetchRoster().catch(function () {}); });
  window.addEventListener("offline", showStatus);

  box.hidden = false;
  showStatus();
  renderQueue();
  if (navigator.onLine) {
    fetchRoster().catch(function () { showStatus(); });
    sync();
  }

  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(box.getAttribute("data-sw-url"), { scope: box.getAttribute("data-sw-scope") })
      .catch(function () { /* the page still works online */ });
  }
})();
