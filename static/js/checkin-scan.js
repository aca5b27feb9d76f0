/* Door kit: continuous scanning and a full-screen verdict per ticket (progressive enhancement).
   - The camera stays on after a scan. Each code read is sent to the door page's scan endpoint (JSON,
     CSRF header); the same code read again within DEBOUNCE_MS of the last sight of it is ignored, so a
     ticket held in front of the camera is checked in once.
   - Each answer shows a full-screen verdict — green admitted, amber already checked in, red refused with
     the reason — with the name, a short beep (WebAudio: high for admitted, two mid for already, low for
     refused) and a vibration where the phone has one. It clears itself after VERDICT_MS or on a tap.
   - A typed code in the "check in by ticket" form goes the same way while online (without this script
     the form is an ordinary POST and the page answers with a message).
   - The count "checked in / expected" follows each answer and the door dashboard's JSON every few seconds.
   - Offline (or when the scan endpoint cannot be reached), a scanned code fills the ticket form and
     submits it, which checkin-offline.js handles from the saved roster (queued, and shown with the same
     verdict through a "door-verdict" event).
   Decoding: the browser's BarcodeDetector where it exists; elsewhere the vendored jsQR decoder
   (static/vendor/jsqr, URL in data-decoder-src), loaded only then and only on this page. Browsers give
   pages the camera only over HTTPS (or on localhost). */
(function () {
  "use strict";
  var box = document.querySelector("[data-scan-box]");
  var form = document.getElementById("ticket-form");
  if (!box || !form) { return; }
  var DEBOUNCE_MS = 3000;
  var VERDICT_MS = 1500;
  var t = function (key) { return box.getAttribute("data-t-" + key) || ""; };
  var input = form.querySelector("input[name=token]");
  var overlay = document.querySelector("[data-door-verdict]");
  var counter = document.querySelector("[data-door-count]");
  var recentList = document.querySelector("[data-recent-list]");
  var scanUrl = box.getAttribute("data-scan-url");
  var lastCode = null, lastSeen = 0, busy = false, hideTimer = null, audio = null;

  /* ------------------------------------------------------------------ feedback */

  function sound(outcome) {
    try {
      if (!audio) { return; }
      var tones = outcome === "admitted" ? [[880, 0, 0.12]] :
        outcome === "already" ? [[660, 0, 0.09], [660, 0.14, 0.09]] : [[220, 0, 0.35]];
      tones.forEach(function (tone) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = outcome === "refused" ? "square" : "sine";
        osc.frequency.value = tone[0];
        gain.gain.value = 0.15;
        osc.connect(gain); gain.connect(audio.destination);
        var at = audio.currentTime + tone[1];
        osc.start(at); osc.stop(at + tone[2]);
      });
    } catch (e) { /* no sound: the colour still tells */ }
  }
  /* Browsers allow sound only after a tap: the first tap on this page opens the audio context. */
  function unlockAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!audio && Ctx) { try { audio = new Ctx(); } catch (e) { audio = null; } }
    if (audio && audio.state === "suspended") { audio.resume().catch(function () {}); }
  }
  document.addEventListener("click", unlockAudio, true);
  document.addEventListener("keydown", unlockAudio, true);

  function hideVerdict() {
    if (hideTimer) { window.clearTimeout(hideTimer); hideTimer = null; }
    if (overlay) { overlay.hidden = true; overlay.removeAttribute("data-outcome"); }
  }

  function showVerdict(outcome, name, message) {
    if (!overlay) { return; }
    overlay.className = "door-verdict is-" + outcome;
    overlay.setAttribute("data-outcome", outcome);
    overlay.querySelector("[data-verdict-title]").textContent = t(outcome);
    overlay.querySelector("[data-verdict-name]").textContent = name || "";
    overlay.querySelector("[data-verdict-message]").textContent = outcome === "admitted" ? "" : (message || "");
    overlay.querySelector("[data-verdict-hint]").textContent = t("dismiss");
    overlay.hidden = false;
    sound(outcome);
    if (navigator.vibrate) {
      try { navigator.vibrate(outcome === "admitted" ? 80 : outcome === "already" ? [80, 60, 80] : [300]); }
      catch (e) { /* not allowed here */ }
    }
    if (hideTimer) { window.clearTimeout(hideTimer); }
    hideTimer = window.setTimeout(hideVerdict, VERDICT_MS);
  }
  if (overlay) { overlay.addEventListener("click", hideVerdict); }
  /* Offline, checkin-offline.js judges a ticket from the saved roster and asks for the same verdict. */
  document.addEventListener("door-verdict", function (event) {
    var d = event.detail || {};
    showVerdict(d.outcome, d.name, d.message);
  });

  function showCount(done, total) {
    if (!counter || typeof done !== "number" || typeof total !== "number") { return; }
    counter.textContent = counter.getAttribute("data-t-count").replace("{done}", String(done))
      .replace("{total}", String(total));
  }

  function addRecent(data) {
    if (!recentList || !data.undo_url) { return; }
    var empty = recentList.querySelector("[data-recent-empty]");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.className = "recent-item";
    var who = document.createElement("span");
    var strong = document.createElement("strong");
    strong.textContent = data.name;
    who.appendChild(strong);
    var now = new Date();
    who.appendChild(document.createTextNode(" · " + String(now.getHours()).padStart(2, "0") + ":" +
                                            String(now.getMinutes()).padStart(2, "0")));
    li.appendChild(who);
    var undo = document.createElement("form");
    undo.method = "post";
    undo.action = data.undo_url;
    var csrf = document.createElement("input");
    csrf.type = "hidden"; csrf.name = "csrf_token"; csrf.value = box.getAttribute("data-csrf");
    undo.appendChild(csrf);
    var button = document.createElement("button");
    button.type = "submit"; button.className = "button";
    button.textContent = t("undo") + " ";
    var hidden = document.createElement("span");
    hidden.className = "visually-hidden"; hidden.textContent = data.name;
    button.appendChild(hidden);
    undo.appendChild(button);
    li.appendChild(undo);
    recentList.insertBefore(li, recentList.firstChild);
    while (recentList.children.length > 5) { recentList.removeChild(recentList.lastChild); }
  }

  /* ------------------------------------------------------------------ sending */

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return null;
  }

  /* requestSubmit fires the submit event, so an offline door (checkin-offline.js) handles a scanned code
     like a typed one. Not form.submit(): the form's submit button is named "submit" and shadows it. */
  function submitForm() {
    if (typeof form.requestSubmit === "function") { form.requestSubmit(); }
    else { HTMLFormElement.prototype.submit.call(form); }
  }

  function offlineHandOver(code) {
    input.value = code;
    submitForm();
  }

  function send(code) {
    if (!scanUrl || !window.fetch || !navigator.onLine) { offlineHandOver(code); return; }
    busy = true;
    box.setAttribute("data-busy", "true");
    fetch(scanUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": box.getAttribute("data-csrf") },
      body: JSON.stringify({ ticket: code, client_id: uuid() })
    }).then(function (response) {
      if (response.redirected || response.status === 400 || response.status === 401) {
        window.location.reload(); /* the session ended: the page (login) tells */
        return null;
      }
      return response.json().then(function (data) {
        if (response.ok) {
          showVerdict(data.outcome, data.name, data.message);
          showCount(data.checked_in, data.expected);
          if (data.outcome === "admitted") { addRecent(data); }
        } else {
          showVerdict("refused", "", data.message || t("error"));
        }
      });
    }).catch(function () {
      if (!navigator.onLine) { offlineHandOver(code); return; }
      showVerdict("refused", "", t("error"));
    }).then(function () {
      busy = false;
      box.removeAttribute("data-busy");
      box.setAttribute("data-scans", String(parseInt(box.getAttribute("data-scans") || "0", 10) + 1));
    });
  }

  /* A typed code, online, without an override reason: the same verdict as a scan, no page load. */
  form.addEventListener("submit", function (event) {
    if (event.defaultPrevented || !navigator.onLine || !scanUrl || !window.fetch) { return; }
    var reason = form.querySelector("[name=override_reason]");
    if (reason && reason.value.trim()) { return; } /* "check in anyway": the ordinary form */
    var code = (input.value || "").trim();
    if (!code) { return; }
    event.preventDefault();
    input.value = "";
    send(code);
  });

  /* ------------------------------------------------------------------ live count */

  if (counter && window.fetch) {
    var every = Math.max(parseInt(counter.getAttribute("data-refresh") || "10", 10), 3) * 1000;
    window.setInterval(function () {
      if (!navigator.onLine || document.hidden) { return; }
      fetch(counter.getAttribute("data-count-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok && !r.redirected ? r.json() : null; })
        .then(function (data) { if (data) { showCount(data.checked_in, data.expected); } })
        .catch(function () { /* offline: checkin-offline.js counts from the saved roster */ });
    }, every);
  }

  /* ------------------------------------------------------------------ camera */

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.isSecureContext) {
    return; /* no camera: the typed code still works */
  }
  var start = box.querySelector("[data-scan-start]");
  var stop = box.querySelector("[data-scan-stop]");
  var video = box.querySelector("[data-scan-video]");
  var status = box.querySelector("[data-scan-status]");
  var stream = null;
  var running = false;
  var decode = null;      /* () -> Promise of the raw text of a QR code in the current frame, or null */
  var nextFrame = null;   /* schedules the next decode attempt */

  /* A QR code may carry the bare code or a ticket link ending in it. */
  function tokenFrom(raw) {
    var text = (raw || "").trim();
    var match = text.match(/([A-Za-z0-9_-]{43})\/?(?:[?#].*)?$/);
    return match ? match[1] : text;
  }

  function stopCamera() {
    running = false;
    if (stream) { stream.getTracks().forEach(function (tr) { tr.stop(); }); stream = null; }
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
    box.removeAttribute("data-running");
  }

  /* One code read: sent unless it is the one just seen (the debounce) or an answer is still awaited. */
  function seen(raw) {
    var code = tokenFrom(raw);
    var at = Date.now();
    var repeat = code === lastCode && at - lastSeen < DEBOUNCE_MS;
    lastSeen = at;
    if (repeat || busy) { return; }
    lastCode = code;
    send(code);
  }

  function scanFrame() {
    if (!running) { return; }
    decode().then(function (raw) {
      if (!running) { return; }
      if (raw) { seen(raw); }
      nextFrame(scanFrame);
    }).catch(function () { if (running) { nextFrame(scanFrame); } });
  }

  function startCamera() {
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        start.hidden = true;
        stop.hidden = false;
        status.textContent = "";
        running = true;
        box.setAttribute("data-running", "true");
        return video.play();
      })
      .then(scanFrame)
      .catch(function (error) {
        stopCamera();
        status.textContent = (error && error.name === "NotAllowedError") ?
          box.getAttribute("data-denied") : box.getAttribute("data-failed");
      });
  }

  function ready() {
    box.hidden = false;
    start.addEventListener("click", startCamera);
    stop.addEventListener("click", stopCamera);
    window.addEventListener("pagehide", stopCamera);
  }

  /* The browser's own detector. */
  function useDetector() {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    decode = function () {
      return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
    };
    nextFrame = function (fn) { window.requestAnimationFrame(fn); };
    box.setAttribute("data-scanner", "native");
    ready();
  }

  /* jsQR on frames drawn to a canvas: scaled down to at most 640 px and tried about 6 times a second,
     which finds a ticket held up to the camera and spares the phone's battery. */
  function useJsQR() {
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    var MAX_SIDE = 640;
    decode = function () {
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h || video.readyState < 2) { return Promise.resolve(null); }
      var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      return Promise.resolve(code && code.data ? code.data : null);
    };
    nextFrame = function (fn) { window.setTimeout(fn, 160); };
    box.setAttribute("data-scanner", "jsqr");
    ready();
  }

  /* Loaded only here and only when needed; the service worker keeps it for an offline door. */
  function loadDecoder() {
    if (typeof window.jsQR === "function") { useJsQR(); return; }
    var src = box.getAttribute("data-decoder-src");
    if (!src) { return; }
    var script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onload = function () { if (typeof window.jsQR === "function") { useJsQR(); } };
    /* onerror: no decoder (e.g. offline before it was ever fetched) — typing the code still works */
    document.head.appendChild(script);
  }

  if ("BarcodeDetector" in window && window.BarcodeDetector.getSupportedFormats) {
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") === -1) { loadDecoder(); } else { useDetector(); }
    }).catch(loadDecoder);
  } else {
    loadDecoder();
  }
})();
