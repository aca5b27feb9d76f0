/* Door check-in: scan a ticket's QR code with the phone camera (progressive enhancement).
   Uses the browser's BarcodeDetector where it exists; elsewhere it loads the vendored jsQR decoder
   (static/vendor/jsqr, URL in the scan box's data-decoder-src, cache-busted) — only then, and only on
   this page — and decodes video frames drawn to a canvas. Without a camera API the scan button stays
   hidden and the ticket code is typed. Browsers give pages the camera only over HTTPS (or on localhost).
   The scanned code fills the "check in by ticket" form, which is then submitted as an ordinary POST. */
(function () {
  "use strict";
  var box = document.querySelector("[data-scan-box]");
  var form = document.getElementById("ticket-form");
  if (!box || !form) { return; }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.isSecureContext) {
    return; /* no camera: the typed code still works */
  }
  var input = form.querySelector("input[name=token]");
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
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  /* requestSubmit fires the submit event, so an offline door (checkin-offline.js) handles a scanned code
     like a typed one. Not form.submit(): the form's submit button is named "submit" and shadows it. */
  function submitForm() {
    if (typeof form.requestSubmit === "function") { form.requestSubmit(); }
    else { HTMLFormElement.prototype.submit.call(form); }
  }

  function scanFrame() {
    if (!running) { return; }
    decode().then(function (raw) {
      if (!running) { return; }
      if (raw) {
        input.value = tokenFrom(raw);
        stopCamera();
        submitForm();
        return;
      }
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
