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
    if (!box) return;
    for (const key of ["ready", "failed", "total"]) {
      const el = box.querySelector('[data-count="' + key + '"]');
      if (el) el.textContent = data[key];
    }
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

  function poll(bar) {
    fetch(bar.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        render(bar, data);
        if (!data.finished) {
          setTimeout(function () { poll(bar); }, POLL_MS);
          return;
        }
        // The batch page's own fields (title, counts, finished at) were rendered while
        // the batch ran: reload once so the whole page agrees with the progress box.
        const box = bar.closest(".stylerecs-batch-progress");
        if (box && box.dataset.finishedAtLoad === "false") {
          box.dataset.finishedAtLoad = "true";
          setTimeout(function () { window.location.reload(); }, 1500);
        }
      })
      .catch(function () { setTimeout(function () { poll(bar); }, POLL_MS * 5); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("progress.stylerecs-progress[data-url]").forEach(poll);
  });
})();
