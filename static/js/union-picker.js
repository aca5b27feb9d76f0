/* Progressive enhancement for the union select: a filter box that narrows the long option list.
   Without JavaScript the plain select still works. */
(function () {
  "use strict";
  document.querySelectorAll("[data-union-picker]").forEach(function (wrapper) {
    var select = wrapper.querySelector("select");
    if (!select) { return; }
    var all = Array.prototype.map.call(select.options, function (o) {
      return { value: o.value, text: o.text };
    });
    var filter = document.createElement("input");
    filter.type = "search";
    filter.id = select.id + "-filter";
    filter.setAttribute("aria-controls", select.id);
    filter.setAttribute("aria-label", wrapper.getAttribute("data-filter-label") || select.labels[0].textContent);
    filter.placeholder = "🔍";
    select.parentNode.insertBefore(filter, select);
    filter.addEventListener("input", function () {
      var needle = filter.value.trim();
      var current = select.value;
      select.innerHTML = "";
      all.forEach(function (o) {
        if (!needle || o.value === "" || o.text.indexOf(needle) !== -1) {
          var option = new Option(o.text, o.value, false, o.value === current);
          select.add(option);
        }
      });
    });
  });
})();
