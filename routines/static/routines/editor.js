/* The job form's structured editor: show only the selected schedule type's rows, and the example
   of the target type being typed. The field lists come from the server (routines.editing). */
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var data = document.getElementById("routines-editor-fields");
    var select = document.getElementById("id_schedule_type");
    if (data && select) {
      var byType = JSON.parse(data.textContent);
      var all = {};
      Object.keys(byType).forEach(function (t) { byType[t].forEach(function (f) { all[f] = true; }); });
      var update = function () {
        var shown = byType[select.value] || [];
        Object.keys(all).forEach(function (f) {
          document.querySelectorAll(".field-" + f).forEach(function (row) {
            var visible = shown.indexOf(f) !== -1;
            /* rows holding two fields (every + unit) stay visible when either is shown */
            if (row.classList.contains("fieldBox")) { row.hidden = !visible; return; }
            row.hidden = !visible;
          });
        });
        document.querySelectorAll(".form-row").forEach(function (row) {
          var boxes = row.querySelectorAll(".fieldBox");
          if (boxes.length) {
            var anyShown = Array.prototype.some.call(boxes, function (b) { return !b.hidden; });
            row.hidden = !anyShown;
          }
        });
      };
      select.addEventListener("change", update);
      update();
    }
    var target = document.getElementById("id_target");
    if (target) {
      var showExample = function () {
        var type = null;
        try { type = JSON.parse(target.value).type; } catch (e) { return; }
        var examples = document.querySelectorAll(".routines-target-example");
        var known = Array.prototype.some.call(examples, function (ex) { return ex.dataset.targetType === type; });
        if (!known) { return; }
        examples.forEach(function (ex) { ex.hidden = ex.dataset.targetType !== type; });
      };
      target.addEventListener("input", showExample);
      showExample();
    }
  });
})();
