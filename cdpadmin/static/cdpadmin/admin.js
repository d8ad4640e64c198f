/* cdpadmin: a changelist cell cut off by its ellipsis gets its full text as a tooltip (title); an element
   marked data-scroll-into-view is scrolled to. */
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
  document.addEventListener("DOMContentLoaded", titleClipped);
  document.addEventListener("DOMContentLoaded", scrollMarked);
  window.addEventListener("resize", titleClipped);
})();
