/* The job form's structured editor: show only the selected schedule type's rows, and the example
   of the target type being typed. The field lists come from the server (routines.editing). */
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  /* The next run times of the schedule being edited, asked from the server as the fields change. */
  function preview(config, select, names) {
    var form = select.form;
    var box = document.createElement("div");
    box.className = "form-row routines-preview";
    box.innerHTML = "<label></label><ul class='routines-upcoming'></ul><small class='routines-preview-error'></small>";
    box.querySelector("label").textContent = config.preview_title + ":";
    select.closest("fieldset").appendChild(box);
    var timer = null;
    var refresh = function () {
      var body = new FormData();
      ["schedule_type"].concat(names).forEach(function (name) {
        var input = form.elements[name];
        if (!input) { return; }
        if (input.type === "checkbox") { if (input.checked) { body.append(name, "on"); } return; }
        body.append(name, input.value);
      });
      body.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
      fetch(config.preview_url, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          var list = box.querySelector("ul");
          list.innerHTML = "";
          (answer.times || []).forEach(function (t) {
            var li = document.createElement("li");
            li.textContent = t;
            list.appendChild(li);
          });
          box.querySelector(".routines-preview-error").textContent = answer.error || "";
        });
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(refresh, 250); };
    ["schedule_type"].concat(names).forEach(function (name) {
      var input = form.elements[name];
      if (input) { input.addEventListener("input", later); input.addEventListener("change", later); }
    });
    refresh();
  }

  ready(function () {
    var data = document.getElementById("routines-editor-fields");
    var select = document.getElementById("id_schedule_type");
    if (data && select) {
      var config = JSON.parse(data.textContent);
      var byType = config.fields;
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
      preview(config, select, Object.keys(all));
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
