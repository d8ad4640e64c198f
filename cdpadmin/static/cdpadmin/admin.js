/* cdpadmin: a changelist cell cut off by its ellipsis gets its full text as a tooltip (title); an element
   marked data-scroll-into-view is scrolled to; on the import mapping, a column's country prefix is shown only
   while the column is imported as a phone. */
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
  document.addEventListener("DOMContentLoaded", titleClipped);
  document.addEventListener("DOMContentLoaded", mappingOptions);
  document.addEventListener("DOMContentLoaded", scrollMarked);
  window.addEventListener("resize", titleClipped);
})();
