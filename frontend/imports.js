// "Recent imports": the person's latest jobs (uploads, Google Photos picks, Takeout archives,
// scraper batches, folder scans) with their progress. Refreshed every 2 s while one runs, and
// now and then otherwise, since a scraper's batches arrive from outside this page.
// Uses app.js's helpers; the other scripts call watchImports() when they start a job.
"use strict";

const JOB_KINDS = {
  upload: "Upload", google_pick: "Google Photos pick", takeout: "Takeout archive",
  scrape: "Scraper batch", scan: "Folder",
};
const JOB_STATES = { queued: "waiting", running: "running", done: "finished", failed: "failed" };
const importsView = { size: 10, timer: null };

function jobProgress(job) {
  return `${job.done} of ${job.total} done` + (job.failed ? `, ${job.failed} failed` : "");
}

function jobRow(job) {
  const li = document.createElement("li");
  li.dataset.state = job.state;
  const part = (cls, text) => { const s = document.createElement("span"); s.className = cls; s.textContent = text; return s; };
  const when = document.createElement("time");
  when.dateTime = job.finished_at || job.created_at;
  when.textContent = new Date(when.dateTime).toLocaleString();
  li.append(part("kind", JOB_KINDS[job.kind] || job.kind), " · ", part("progress", jobProgress(job)),
    " · ", part("state", JOB_STATES[job.state] || job.state), " · ", when);
  if (job.message) li.append(part("job-message", job.message));
  return li;
}

async function loadImports() {
  clearTimeout(importsView.timer);
  if (!state.user) return;
  const data = await json(`/jobs?size=${importsView.size}`);
  $("imports-list").replaceChildren(...data.items.map(jobRow));
  const running = data.items.filter((j) => j.state === "queued" || j.state === "running").length;
  $("imports-count").textContent = running ? `(${running} running)` : "";
  say("imports-message", data.total ? "" : "Nothing imported yet.");
  importsView.timer = setTimeout(watchImports, running ? 2000 : 30000);
}

function watchImports() {
  if (document.hidden) { importsView.timer = setTimeout(watchImports, 30000); return; }
  loadImports().catch((e) => say("imports-message", e.message, true));
}

document.addEventListener("DOMContentLoaded", () => {
  // Open where there is room; a phone shows the list on request.
  if (window.matchMedia("(min-width: 641px)").matches) $("imports").open = true;
});
