// "Import a Takeout archive": the parts of a Google Takeout export sent to
// POST /api/v1/imports/takeout with upload progress, then the import job followed to its end.
// Loaded after app.js, whose globals it uses: API, state (the token), say, loadGroups.
"use strict";

(() => {
  const el = (id) => document.getElementById(id);

  function send(files, onProgress) {
    // XMLHttpRequest, not fetch: only it reports how much of a large body has been sent.
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const f of files) form.append("files", f, f.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", API + "/imports/takeout");
      if (state.token) xhr.setRequestHeader("Authorization", "Bearer " + state.token);
      xhr.upload.addEventListener("progress", (ev) => { if (ev.lengthComputable) onProgress(ev.loaded, ev.total); });
      xhr.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 202) resolve(body);
        else reject(new Error(body.detail || `the import was refused (HTTP ${xhr.status})`));
      });
      xhr.addEventListener("error", () => reject(new Error("the upload failed; check the connection and retry")));
      xhr.send(form);
    });
  }

  function list(items) {
    el("takeout-skipped").replaceChildren(...items.map((text) => {
      const li = document.createElement("li"); li.textContent = text; return li;
    }));
  }

  async function follow(jobId, bar) {
    for (;;) {
      const response = await fetch(`${API}/jobs/${jobId}`, { headers: { Authorization: "Bearer " + state.token } });
      if (!response.ok) throw new Error(`the import's progress could not be read (HTTP ${response.status})`);
      const job = await response.json();
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
    const result = await send(files, (sent, total) => {
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
