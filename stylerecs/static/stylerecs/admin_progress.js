// Live progress for generation batches: every <progress data-url> on the page polls its
// batch's JSON endpoint until the batch is finished.
(function () {
  "use strict";
  const POLL_MS = 1000;

  function render(bar, data) {
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    bar.classList.toggle("stylerecs-progress-failed", data.failed > 0);
    const label = bar.parentElement.querySelector(".stylerecs-progress-label");
    if (label) label.textContent = data.percent + "%";
    const box = bar.closest(".stylerecs-batch-progress");
    if (!box) {
      // A row of the batch list: its own columns move with its bar.
      const row = bar.closest("tr");
      for (const [name, text] of Object.entries((row && data.fields) || {})) {
        const cell = row.querySelector("td.field-" + name);
        if (cell) cell.textContent = text;
      }
      return;
    }
    for (const key of ["ready", "failed", "total"]) {
      const el = box.querySelector('[data-count="' + key + '"]');
      if (el) el.textContent = data[key];
    }
    renderPage(box, data);
    const state = box.querySelector('[data-field="state"]');
    if (state) state.textContent = data.finished ? "finished" : "working…";
    const table = box.querySelector(".stylerecs-failures");
    if (table && data.failures.length) {
      table.hidden = false;
      const body = table.querySelector("tbody");
      body.replaceChildren(...data.failures.map(function (f) {
        const row = document.createElement("tr");
        for (const value of [f.variant, f.product, f.style, f.error]) {
          const cell = document.createElement("td");
          cell.textContent = value;
          row.appendChild(cell);
        }
        return row;
      }));
    }
  }

  // The batch page's own title and read-only fields were rendered when it loaded: keep
  // them in step with the box, so that "Ready 0" never stands beside "finished".
  function renderPage(box, data) {
    if (data.title && box.dataset.title && data.title !== box.dataset.title) {
      const old = box.dataset.title;
      document.title = document.title.replace(old, data.title);
      document.querySelectorAll("#content h2, .breadcrumbs").forEach(function (el) {
        for (const node of el.childNodes) {
          if (node.nodeType === Node.TEXT_NODE && node.textContent.includes(old)) {
            node.textContent = node.textContent.replace(old, data.title);
          }
        }
      });
      box.dataset.title = data.title;
    }
    for (const [name, text] of Object.entries(data.fields || {})) {
      document.querySelectorAll(".field-" + name + " .readonly").forEach(function (el) {
        el.textContent = text;
      });
    }
  }

  function poll(bar) {
    fetch(bar.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        render(bar, data);
        if (!data.finished) setTimeout(function () { poll(bar); }, POLL_MS);
      })
      .catch(function () { setTimeout(function () { poll(bar); }, POLL_MS * 5); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("progress.stylerecs-progress[data-url]").forEach(poll);
  });
})();
