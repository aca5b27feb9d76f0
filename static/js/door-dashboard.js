// The live door dashboard: asks the JSON endpoint every few seconds and updates the figures in place.
// Without JavaScript the page reloads itself (<noscript> meta refresh); nothing here is needed to read it.
(function () {
  "use strict";
  var board = document.getElementById("door-board");
  if (!board || !window.fetch) { return; }
  var every = Math.max(parseInt(board.getAttribute("data-every"), 10) || 10, 3) * 1000;
  var url = board.getAttribute("data-url");

  function setField(name, value) {
    var el = board.querySelector('[data-field="' + name + '"]');
    if (el) { el.textContent = value === null || value === undefined ? "—" : String(value); }
  }

  function cell(tag, text, scope) {
    var el = document.createElement(tag);
    if (scope) { el.setAttribute("scope", scope); }
    el.textContent = text === null || text === undefined ? "—" : String(text);
    return el;
  }

  function fill(name, items, columns, emptyText) {
    var body = board.querySelector('[data-list="' + name + '"]');
    if (!body) { return; }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    if (!items.length && emptyText) {
      var tr = document.createElement("tr");
      var td = cell("td", emptyText);
      td.setAttribute("colspan", String(columns.length + 1));
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    items.forEach(function (item) {
      var row = document.createElement("tr");
      row.appendChild(cell("th", item.label, "row"));
      columns.forEach(function (key) { row.appendChild(cell("td", item[key])); });
      body.appendChild(row);
    });
  }

  function show(data) {
    ["checked_in", "expected", "percent", "recent", "time"].forEach(function (key) { setField(key, data[key]); });
    var meter = board.querySelector("[data-field-meter]");
    if (meter) {
      meter.setAttribute("max", String(data.expected || 1));
      meter.setAttribute("value", String(data.checked_in));
      meter.textContent = String(data.checked_in);
    }
    fill("doors", data.doors, ["checked_in", "last"], board.getAttribute("data-t-no-door"));
    fill("slots", data.slots, ["checked_in", "expected", "percent"], "");
    setField("stale", "");
    board.setAttribute("data-updated", data.at);
  }

  function tick() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) {
        if (!response.ok || (response.headers.get("Content-Type") || "").indexOf("json") < 0) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(show)
      .catch(function () { setField("stale", board.getAttribute("data-t-stale")); })
      .then(function () { window.setTimeout(tick, every); });
  }
  window.setTimeout(tick, every);
}());
