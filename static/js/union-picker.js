/* Progressive enhancement for the union picker (templates/_macros/forms.html, union_picker).
   Without JavaScript the select and its search step (a GET form that reloads the page) work on their own.
   With it: a search box that narrows the select at once and lists, from GET /api/v1/unions, every union
   whose name contains the words, with its path (朝阳区总工会 › 奥运村街道总工会); choosing one selects it,
   even when the bounded select did not list it.  No inline script: CSP allows script-src 'self' only. */
(function () {
  "use strict";
  var SEPARATOR = " \u203a ";
  var WAIT_MS = 250;

  function setUp(wrapper) {
    var select = wrapper.querySelector("select");
    if (!select) { return; }
    var step = wrapper.querySelector(".union-search-step");
    if (step) { step.hidden = true; }
    var all = Array.prototype.map.call(select.options, function (o) {
      return { value: o.value, text: o.text };
    });
    var label = wrapper.getAttribute("data-filter-label") || "";
    var filter = document.createElement("input");
    filter.type = "search";
    filter.id = select.id + "-filter";
    filter.maxLength = 40;
    filter.setAttribute("aria-label", label);
    filter.setAttribute("autocomplete", "off");
    filter.placeholder = "\ud83d\udd0d " + label;
    var results = document.createElement("ul");
    results.className = "union-list union-results";
    results.id = select.id + "-results";
    filter.setAttribute("aria-controls", select.id + " " + results.id);
    var status = document.createElement("p");
    status.className = "help";
    status.setAttribute("aria-live", "polite");
    select.parentNode.insertBefore(filter, select);
    select.parentNode.insertBefore(results, select);
    select.parentNode.insertBefore(status, select);
    var timer = null;
    var asked = 0;

    function narrowSelect(needle) {
      var current = select.value;
      select.innerHTML = "";
      all.forEach(function (o) {
        if (!needle || o.value === "" || o.value === current || o.text.indexOf(needle) !== -1) {
          select.add(new Option(o.text, o.value, false, o.value === current));
        }
      });
    }

    function choose(item) {
      var path = item.path.join(SEPARATOR);
      var value = String(item.id);
      if (!all.some(function (o) { return o.value === value; })) {
        all.push({ value: value, text: path });
      }
      var option = Array.prototype.find.call(select.options, function (o) { return o.value === value; });
      if (!option) {
        option = new Option(path, value);
        select.add(option);
      }
      select.value = value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      results.innerHTML = "";
      status.textContent = (wrapper.getAttribute("data-t-chosen") || "") + " " + path;
    }

    function show(items, needle) {
      results.innerHTML = "";
      if (!items.length) {
        status.textContent = wrapper.getAttribute("data-t-none") || "";
        return;
      }
      status.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "link-button";
        button.textContent = item.path.join(SEPARATOR);
        button.addEventListener("click", function () { choose(item); });
        li.appendChild(button);
        results.appendChild(li);
      });
    }

    function search(needle) {
      var ticket = ++asked;
      var url = wrapper.getAttribute("data-api") + "?per_page=20&q=" + encodeURIComponent(needle);
      fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (body) {
          if (ticket === asked) { show(body.items || [], needle); }
        })
        .catch(function () {
          if (ticket === asked && step) { step.hidden = false; }  // offline: the search step still works
        });
    }

    filter.addEventListener("input", function () {
      var needle = filter.value.trim();
      narrowSelect(needle);
      window.clearTimeout(timer);
      if (!needle) {
        results.innerHTML = "";
        status.textContent = "";
        asked++;
        return;
      }
      timer = window.setTimeout(function () { search(needle); }, WAIT_MS);
    });
  }

  document.querySelectorAll("[data-union-picker]").forEach(setUp);
})();
