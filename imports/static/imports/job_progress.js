// The import job page's live bars (analysis and import): polls the job's progress URL, reloads the page when
// the job moves on. A static file: the page's Content-Security-Policy runs no inline script without a nonce.
(function () {
  "use strict";
  var data = document.getElementById("progress-data");
  var root = document.getElementById("job-summary");
  if (!data || !root) { return; }
  var state = JSON.parse(data.textContent);
  var active = ["analyzing", "queued", "running"];
  if (active.indexOf(state.status) < 0) { return; }
  var url = root.getAttribute("data-progress-url");
  function seconds(s) { return s >= 90 ? Math.round(s / 60) + " min" : s + " s"; }
  function showAnalysis(a) {
    var fill = document.getElementById("analysis-fill");
    var text = document.getElementById("analysis-text");
    if (!a) { return; }
    if (fill) { fill.style.width = a.percent + "%"; }
    if (text) {
      text.textContent = a.phase_display + " · " + a.rows_read.toLocaleString() +
        (a.rows_expected ? " / ~" + a.rows_expected.toLocaleString() : "") + " rows";
    }
  }
  function showImport(p) {
    var fill = document.getElementById("progress-fill");
    var text = document.getElementById("progress-text");
    if (fill) { fill.style.width = p.percent + "%"; }
    if (text && p.waiting) {
      text.textContent = "Waiting for " + (p.waiting_for ? "import #" + p.waiting_for : "another import") +
        " of this realm to finish (one import of a realm at a time)…" +
        (p.cancel_requested ? " · cancelling" : "");
    } else if (text) {
      text.textContent = p.rows_done.toLocaleString() + " / " + p.rows_total.toLocaleString() + " rows · " +
        p.rate.toLocaleString() + " rows/s · " + seconds(p.seconds_left) + " left" +
        (p.cancel_requested ? " · cancelling after this batch" : "");
    }
  }
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (p) {
      if (p.status !== state.status && (p.finished || p.status === "analyzed" || p.status === "uploaded" || state.status === "queued")) {
        window.location.reload();
        return;
      }
      if (p.status === "analyzing") { showAnalysis(p.analysis); } else { showImport(p); }
      state = p;
      setTimeout(poll, 1000);
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
