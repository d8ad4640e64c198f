// The segment form's builder: each condition's operators follow its field, and the live count (with the
// filter it becomes in Infobip's language) is asked from the admin's count/ view while the form changes.
(function () {
  "use strict";
  const root = document.getElementById("segment-builder");
  const specNode = document.getElementById("segment-builder-spec");
  if (!root || !specNode) return;
  const spec = JSON.parse(specNode.textContent);
  const form = root.closest("form");
  const countNode = document.getElementById("segment-live-count");
  const errorNode = document.getElementById("segment-live-error");
  const filterNode = document.getElementById("segment-live-filter");
  let timer = null;
  let asked = 0;

  function limitOperators(row) {
    const field = form.querySelector(`[name="cond_${row}_field"]`);
    const op = form.querySelector(`[name="cond_${row}_op"]`);
    if (!field || !op) return;
    const allowed = spec[field.value] || [];
    for (const option of op.options) {
      option.hidden = option.value !== "" && !allowed.includes(option.value);
    }
    if (op.value && !allowed.includes(op.value)) op.value = allowed[0] || "";
    if (field.value && !op.value && allowed.length) op.value = allowed[0];
  }

  function realmId() {
    const select = form.querySelector('[name="realm"]');
    return select ? select.value : root.dataset.realm || "";
  }

  async function refresh() {
    const params = new URLSearchParams();
    params.set("realm", realmId());
    for (const element of form.elements) {
      if (element.name && (element.name === "match" || element.name.startsWith("cond_"))) {
        params.set(element.name, element.value);
      }
    }
    const mine = ++asked;
    countNode.textContent = "…";
    try {
      const response = await fetch(`${root.dataset.countUrl}?${params}`, { credentials: "same-origin" });
      const body = await response.json();
      if (mine !== asked) return; // a newer question is on its way
      if (body.error) {
        countNode.textContent = "—";
        errorNode.textContent = body.error;
        errorNode.hidden = false;
        filterNode.textContent = "";
      } else {
        countNode.textContent = `${body.count.toLocaleString()} person${body.count === 1 ? "" : "s"}`;
        errorNode.hidden = true;
        filterNode.textContent = JSON.stringify(body.filter);
      }
    } catch (error) {
      countNode.textContent = "—";
    }
  }

  function changed(event) {
    const match = /^cond_(\d+)_field$/.exec(event.target.name || "");
    if (match) limitOperators(match[1]);
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  for (let row = 0; form.querySelector(`[name="cond_${row}_field"]`); row++) limitOperators(row);
  form.addEventListener("change", changed);
  form.addEventListener("input", changed);
  refresh();
})();
