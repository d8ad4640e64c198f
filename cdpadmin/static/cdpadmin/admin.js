/* cdpadmin: a changelist cell cut off by its ellipsis gets its full text as a tooltip (title). */
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
  document.addEventListener("DOMContentLoaded", titleClipped);
  window.addEventListener("resize", titleClipped);
})();
