// Adding photos: files or whole folders, chosen or dropped anywhere on the page; sent in small
// batches with their upload progress, then each photo followed until it is compared, and a
// summary ("67 added, 2 exact and 7 near groups, 3 rejected"). Uses app.js's helpers.
"use strict";

const IMAGE_NAME = /\.(jpe?g|png|gif|webp|bmp|tiff?|heic|heif|avif|jfif)$/i;
const BATCH_FILES = 20;
const BATCH_BYTES = 32 * 1024 * 1024;
const UNFINISHED_STATES = ["fetching", "pending", "hashed", "analysed"];

function isImage(file) { return file.type.startsWith("image/") || IMAGE_NAME.test(file.name); }

// Every file of a dropped folder, however deep (readEntries answers in chunks).
async function filesOf(entry, prefix = "") {
  if (entry.isFile) {
    const file = await new Promise((ok, fail) => entry.file(ok, fail));
    return [{ file, name: prefix + file.name }];
  }
  const reader = entry.createReader();
  const out = [];
  for (;;) {
    const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
    if (!batch.length) break;
    for (const child of batch) out.push(...await filesOf(child, `${prefix}${entry.name}/`));
  }
  return out;
}

async function dropped(dataTransfer) {
  const entries = [...(dataTransfer.items || [])].map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  if (entries.length && entries.every(Boolean)) {
    const lists = await Promise.all(entries.map((e) => filesOf(e)));
    return lists.flat();
  }
  return [...dataTransfer.files].map((file) => ({ file, name: file.name }));
}

function batches(items) {
  const out = [];
  let current = []; let size = 0;
  for (const item of items) {
    if (current.length && (current.length >= BATCH_FILES || size + item.file.size > BATCH_BYTES)) { out.push(current); current = []; size = 0; }
    current.push(item); size += item.file.size;
  }
  if (current.length) out.push(current);
  return out;
}

function fileRow(name) {
  const li = document.createElement("li");
  const label = document.createElement("span"); label.className = "name"; label.textContent = name;
  const status = document.createElement("span"); status.className = "state"; status.textContent = "waiting";
  li.append(label, status);
  li.dataset.state = "waiting";
  return li;
}

function setRow(li, st, text = st) {
  li.dataset.state = st;
  li.querySelector(".state").textContent = text;
}

async function upload(items) {
  const skipped = items.filter((i) => !isImage(i.file));
  const photos = items.filter((i) => isImage(i.file));
  const rejected = skipped.map((i) => ({ filename: i.name, reason: "not a photo (skipped)" }));
  const rows = new Map();
  const list = $("upload-files");
  list.replaceChildren(...photos.map((p) => { const li = fileRow(p.name); rows.set(p, li); return li; }));
  $("rejected").replaceChildren();
  say("upload-summary", "");
  const bar = $("progress"); bar.hidden = false; bar.value = 0;
  const total = photos.reduce((n, p) => n + p.file.size, 0) || 1;
  bar.max = total;
  let sentBefore = 0;
  const ours = new Map(); // image id -> row
  const jobs = [];
  for (const batch of batches(photos)) {
    for (const p of batch) setRow(rows.get(p), "uploading");
    const size = batch.reduce((n, p) => n + p.file.size, 0);
    const result = await sendFiles("/images/upload", batch, (loaded, whole) => {
      loaded = Math.round((loaded / whole) * size); // the body is a little larger than the files
      bar.value = sentBefore + loaded;
      say("upload-message", `Uploading… ${bytes(sentBefore + loaded)} of ${bytes(total)} (${plural(photos.length, "photo")})`);
    });
    sentBefore += size;
    jobs.push(result.job_id);
    // The server answers in the order it was sent; a name may repeat, so match in order.
    const pending = [...batch];
    for (const accepted of result.images) {
      const i = pending.findIndex((p) => p.name.endsWith(accepted.filename) || accepted.filename.endsWith(p.file.name));
      const [p] = pending.splice(i >= 0 ? i : 0, 1);
      if (p) { setRow(rows.get(p), "waiting", "uploaded, waiting"); ours.set(accepted.id, rows.get(p)); }
    }
    for (const r of result.rejected) {
      rejected.push(r);
      const i = pending.findIndex((p) => p.name.endsWith(r.filename) || r.filename.endsWith(p.file.name));
      const [p] = pending.splice(i >= 0 ? i : 0, 1);
      if (p) setRow(rows.get(p), "rejected", `rejected: ${r.reason}`);
    }
  }
  showRejected(rejected);
  await follow(jobs, ours, bar, rejected);
  const counts = await loadCounts().catch(() => ({}));
  const added = [...ours.values()].filter((li) => li.dataset.state === "done").length;
  const parts = [`${added} added`];
  parts.push(`${counts.exact ?? 0} exact and ${counts.near ?? 0} near groups` + (counts.similar ? `, ${counts.similar} similar` : ""));
  parts.push(`${rejected.length} rejected`);
  say("upload-summary", parts.join(", ") + ".");
  await loadGroups();
}

function showRejected(rejected) {
  $("rejected").replaceChildren(...rejected.map((r) => {
    const li = document.createElement("li"); li.textContent = `${r.filename}: ${r.reason}`; return li;
  }));
}

// Each photo is followed until it has been compared (its state leaves the unfinished ones); the
// jobs give the counts and the reasons for failures.
async function follow(jobIds, ours, bar, rejected) {
  const n = ours.size;
  bar.max = Math.max(1, n); bar.value = 0;
  const finished = new Map(); // a finished job is read once, not on every round
  for (;;) {
    const jobs = await Promise.all(jobIds.map((id) => finished.get(id) || json(`/jobs/${id}`)));
    for (const j of jobs) if (j.state === "done" || j.state === "failed") finished.set(j.id, j);
    const failed = new Map(jobs.flatMap((j) => j.failures.map((f) => [f.image_id, f])));
    const unfinished = new Map();
    for (const st of UNFINISHED_STATES) {
      const page = await json(`/images?state=${st}&size=500`);
      for (const image of page.items) unfinished.set(image.id, st);
    }
    let settled = 0;
    for (const [id, li] of ours) {
      if (failed.has(id)) {
        if (li.dataset.state !== "failed") { setRow(li, "failed", `failed: ${failed.get(id).reason}`); rejected.push(failed.get(id)); }
      } else if (unfinished.has(id)) {
        const st = unfinished.get(id);
        setRow(li, "working", st === "pending" ? "waiting for analysis" : st === "analysed" ? "comparing" : "analysing");
        continue;
      } else setRow(li, "done", "done");
      settled += 1;
    }
    const analysed = jobs.reduce((k, j) => k + j.done + j.failed, 0);
    const failures = jobs.reduce((k, j) => k + j.failed, 0);
    bar.value = settled;
    say("upload-message", `Analysed ${Math.min(analysed, n)} of ${n}, ${settled} compared` + (failures ? ` (${failures} failed)` : ""));
    if (settled >= n && jobs.every((j) => j.state === "done" || j.state === "failed")) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  showRejected(rejected);
}

async function start(items) {
  if (!items.length) { say("upload-message", "Choose some photos first.", true); return; }
  $("upload").disabled = true;
  try { await upload(items); } catch (e) { say("upload-message", e.message, true); }
  finally { $("upload").disabled = false; }
}

document.addEventListener("DOMContentLoaded", () => {
  $("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const chosen = [...$("files").files, ...$("folder").files].map((file) => ({ file, name: file.webkitRelativePath || file.name }));
    await start(chosen);
  });
  // Drop anywhere on the signed-in page.
  let depth = 0;
  document.addEventListener("dragenter", (ev) => {
    if ($("app").hidden || !ev.dataTransfer || ![...ev.dataTransfer.types].includes("Files")) return;
    depth += 1; document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) document.body.classList.remove("dragging"); });
  document.addEventListener("dragover", (ev) => { if (!$("app").hidden) ev.preventDefault(); });
  document.addEventListener("drop", async (ev) => {
    if ($("app").hidden) return;
    ev.preventDefault();
    depth = 0; document.body.classList.remove("dragging");
    if (ev.target.closest && ev.target.closest("#takeout-form")) return; // archives go through Import
    await start(await dropped(ev.dataTransfer));
  });
});
