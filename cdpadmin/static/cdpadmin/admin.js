/* cdpadmin: a changelist cell cut off by its ellipsis gets its full text as a tooltip (title); an element
   marked data-scroll-into-view is scrolled to; on the import mapping, a column's country prefix is shown only
   while the column is imported as a phone; a list-of-objects custom attribute's JSON textarea becomes a table
   of its fields (one row per object), which writes the JSON back into the (hidden) textarea. */
(function () {
  "use strict";
  function titleClipped() {
    document.querySelectorAll("#result_list td, #result_list th").forEach(function (cell) {
      if (cell.dataset.cdpTitle === undefined) { cell.dataset.cdpTitle = cell.getAttribute("title") || ""; }
      if (cell.dataset.cdpTitle) { return; }
      if (cell.scrollWidth > cell.clientWidth) {
        cell.setAttribute("title", cell.textContent.trim());
      } else {
        cell.removeAttribute("title");
      }
    });
  }
  function scrollMarked() {  /* e.g. the merge preview after "Preview" */
    var target = document.querySelector("[data-scroll-into-view]");
    if (target) { target.scrollIntoView({block: "start"}); }
  }
  function mappingOptions() {
    var table = document.getElementById("mapping");
    if (!table) { return; }
    table.addEventListener("change", function (event) {
      var row = event.target.closest("tr");
      if (!row || event.target.tagName !== "SELECT") { return; }
      row.querySelectorAll("[data-shown-for]").forEach(function (option) {
        option.hidden = option.dataset.shownFor !== event.target.value;
      });
    });
  }
  function objectTables() {
    document.querySelectorAll("textarea[data-object-schema]").forEach(function (area) {
      var schema, rows;
      try {
        schema = JSON.parse(area.dataset.objectSchema || "{}");
        rows = area.value.trim() ? JSON.parse(area.value) : [];
      } catch (e) { return; }  /* not JSON (e.g. a refused value shown back): the textarea stays */
      var fields = Object.keys(schema);
      if (!fields.length || !Array.isArray(rows)) { return; }
      var table = document.createElement("table");
      table.className = "cdp-object-table";
      var head = table.createTHead().insertRow();
      fields.forEach(function (name) {
        var th = document.createElement("th");
        th.textContent = name;
        head.appendChild(th);
      });
      head.appendChild(document.createElement("th"));
      var body = table.createTBody();
      function write() {
        var out = [];
        Array.prototype.forEach.call(body.rows, function (row) {
          var item = {}, filled = false;
          fields.forEach(function (name, i) {
            var input = row.cells[i].firstChild, type = schema[name], value;
            if (type === "BOOLEAN") { value = input.checked; filled = filled || input.checked; item[name] = value; return; }
            if (input.value === "") { return; }
            value = (type === "DECIMAL" || type === "INTEGER") ? Number(input.value) : input.value;
            item[name] = value; filled = true;
          });
          if (filled) { out.push(item); }
        });
        area.value = out.length ? JSON.stringify(out) : "";
      }
      function addRow(item) {
        var row = body.insertRow();
        fields.forEach(function (name) {
          var input = document.createElement("input"), type = schema[name], value = item[name];
          input.name = "";  /* never posted itself: the textarea carries the value */
          input.setAttribute("aria-label", name);
          if (type === "BOOLEAN") { input.type = "checkbox"; input.checked = value === true; }
          else {
            input.type = (type === "DECIMAL" || type === "INTEGER") ? "number" : (type === "DATE" ? "date" : "text");
            if (type === "DECIMAL") { input.step = "any"; }
            input.value = value === undefined || value === null ? "" : value;
          }
          input.addEventListener("input", write);
          input.addEventListener("change", write);
          row.insertCell().appendChild(input);
        });
        var remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "Remove";
        remove.className = "button cdp-object-remove";
        remove.addEventListener("click", function () { row.remove(); write(); });
        row.insertCell().appendChild(remove);
      }
      rows.forEach(function (item) { addRow(item || {}); });
      var add = document.createElement("button");
      add.type = "button";
      add.textContent = "Add a row";
      add.className = "button cdp-object-add";
      add.addEventListener("click", function () { addRow({}); });
      var editor = document.createElement("div");
      editor.className = "cdp-object-editor";
      editor.appendChild(table);
      editor.appendChild(add);
      area.hidden = true;
      area.parentNode.insertBefore(editor, area);
    });
  }
  document.addEventListener("DOMContentLoaded", titleClipped);
  document.addEventListener("DOMContentLoaded", objectTables);
  document.addEventListener("DOMContentLoaded", mappingOptions);
  document.addEventListener("DOMContentLoaded", scrollMarked);
  window.addEventListener("resize", titleClipped);
})();
