// "Import a Takeout archive": the parts of a Google Takeout export sent to
// POST /api/v1/imports/takeout with upload progress, then the import job followed to its end.
// Loaded after app.js, whose globals it uses: sendFiles, json, say, loadGroups.
"use strict";

(() => {
  const el = (id) => document.getElementById(id);

  function list(items) {
    el("takeout-skipped").replaceChildren(...items.map((text) => {
      const li = document.createElement("li"); li.textContent = text; return li;
    }));
  }

  async function follow(jobId, bar) {
    for (;;) {
      let job;
      try { job = await json(`/jobs/${jobId}`); }
      catch (e) { throw new Error(`the import's progress could not be read (${e.message})`); }
      const finished = job.done + job.failed;
      bar.max = Math.max(1, job.total); bar.value = finished;
      if (job.message === null) say("takeout-message", "Reading the archive…");
      else say("takeout-message", `${job.message}. Analysed ${Math.max(0, finished - 1)} of ${Math.max(0, job.total - 1)}.`, job.state === "failed");
      if (job.state === "done" || job.state === "failed") {
        list(job.skipped.map((s) => `${s.name}: ${s.reason}`).concat(job.failures.map((f) => `${f.filename}: ${f.reason}`)));
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async function importTakeout(files) {
    const bar = el("takeout-progress");
    bar.hidden = false; bar.value = 0; bar.max = 1; list([]);
    const size = Array.from(files).reduce((n, f) => n + f.size, 0);
    say("takeout-message", `Uploading ${files.length} archive(s), ${(size / 2 ** 20).toFixed(1)} MiB…`);
    const items = Array.from(files).map((file) => ({ file, name: file.name }));
    const result = await sendFiles("/imports/takeout", items, (sent, total) => {
      bar.max = total; bar.value = sent;
      say("takeout-message", `Uploading… ${Math.floor((100 * sent) / total)} %`);
    });
    await follow(result.job_id, bar);
    if (typeof loadGroups === "function") await loadGroups();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = el("takeout-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const files = el("takeout-files").files;
      if (!files.length) { say("takeout-message", "Choose the .zip or .tgz file(s) of your export first.", true); return; }
      el("takeout-import").disabled = true;
      try { await importTakeout(files); } catch (e) { say("takeout-message", e.message, true); }
      finally { el("takeout-import").disabled = false; }
    });
  });
})();
