/* Door check-in: scan a ticket's QR code with the phone camera (progressive enhancement).
   Uses the browser's BarcodeDetector where it exists; elsewhere the scan button stays hidden and the
   ticket code is typed. Browsers give pages the camera only over HTTPS (or on localhost).
   The scanned code fills the "check in by ticket" form, which is then submitted as an ordinary POST. */
(function () {
  "use strict";
  var box = document.querySelector("[data-scan-box]");
  var form = document.getElementById("ticket-form");
  if (!box || !form) { return; }
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
      !window.isSecureContext) {
    return; /* no scanner: the typed code still works */
  }
  var input = form.querySelector("input[name=token]");
  var start = box.querySelector("[data-scan-start]");
  var stop = box.querySelector("[data-scan-stop]");
  var video = box.querySelector("[data-scan-video]");
  var status = box.querySelector("[data-scan-status]");
  var stream = null;
  var detector = null;
  var running = false;

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

  function scanFrame() {
    if (!running) { return; }
    detector.detect(video).then(function (codes) {
      if (codes.length) {
        input.value = tokenFrom(codes[0].rawValue);
        stopCamera();
        form.submit();
        return;
      }
      window.requestAnimationFrame(scanFrame);
    }).catch(function () { window.requestAnimationFrame(scanFrame); });
  }

  window.BarcodeDetector.getSupportedFormats().then(function (formats) {
    if (formats.indexOf("qr_code") === -1) { return; }
    detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    box.hidden = false;
    start.addEventListener("click", function () {
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
    });
    stop.addEventListener("click", stopCamera);
    window.addEventListener("pagehide", stopCamera);
  }).catch(function () { /* leave the scan button hidden */ });
})();
