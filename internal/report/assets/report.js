// hoheit HTML report: filters the findings list. Plain DOM, no libraries,
// nothing loaded from the network.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var $ = function (id) { return document.getElementById(id); };
  var rows = Array.prototype.slice.call(document.querySelectorAll("details.finding"));
  if (!document.getElementById("filters")) { return; } // no findings, nothing to filter
  var fields = {
    severity: $("f-severity"),
    framework: $("f-framework"),
    provider: $("f-provider"),
    status: $("f-status"),
    text: $("f-text")
  };

  function apply() {
    var sev = fields.severity.value, fw = fields.framework.value,
        prov = fields.provider.value, st = fields.status.value,
        words = fields.text.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (el) {
      var d = el.dataset;
      var ok = (!sev || d.severity === sev) &&
        (!st || d.status === st) &&
        (!prov || d.provider === prov) &&
        (!fw || (" " + d.frameworks + " ").indexOf(" " + fw + " ") >= 0) &&
        words.every(function (w) { return d.search.indexOf(w) >= 0; });
      el.hidden = !ok;
      if (ok) { shown++; }
    });
    $("shown-count").textContent = shown === rows.length ? String(rows.length) : shown + " of " + rows.length;
    var none = $("no-match");
    if (none) { none.hidden = shown !== 0 || rows.length === 0; }
  }

  Object.keys(fields).forEach(function (k) {
    fields[k].addEventListener(k === "text" ? "input" : "change", apply);
  });

  $("f-reset").addEventListener("click", function () {
    Object.keys(fields).forEach(function (k) { fields[k].value = ""; });
    apply();
  });

  var expanded = false;
  $("f-expand").addEventListener("click", function () {
    expanded = !expanded;
    rows.forEach(function (el) { if (!el.hidden) { el.open = expanded; } });
    this.textContent = expanded ? "Collapse all" : "Expand all";
  });

  // Cards and control rows set filters: a click on "high" shows the high
  // findings, a click on a control the findings mapped to it.
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest ? ev.target.closest("[data-filter-severity],[data-filter-framework]") : null;
    if (!a) { return; }
    Object.keys(fields).forEach(function (k) { fields[k].value = ""; });
    if (a.dataset.filterSeverity) { fields.severity.value = a.dataset.filterSeverity; fields.status.value = "fail"; }
    if (a.dataset.filterFramework) { fields.framework.value = a.dataset.filterFramework; }
    if (a.dataset.filterText) { fields.text.value = a.dataset.filterText; }
    apply();
  });

  // A printed report shows every finding it lists in full.
  window.addEventListener("beforeprint", function () {
    rows.forEach(function (el) { if (!el.hidden) { el.open = true; } });
  });

  apply();
})();
