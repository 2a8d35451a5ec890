// Duplicate Image Finder web UI: plain JavaScript against the /api/v1 HTTP API.
"use strict";

const API = (window.DUPFINDER_API || "") + "/api/v1";
const state = { token: sessionStorage.getItem("token"), tier: "exact", object: "", page: 1, size: 20 };
const TITLES = { exact: "identical copies", near: "versions of one photo", similar: "shots of one scene" };
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const response = await fetch(API + path, Object.assign({}, options, { headers }));
  if (response.status === 401 && state.token) { signOut(); }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return response;
}

function say(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", isError);
}

async function signIn(email, password) {
  const body = new URLSearchParams({ username: email, password });
  const response = await api("/auth/token", { method: "POST", body });
  state.token = (await response.json()).access_token;
  sessionStorage.setItem("token", state.token);
  await showApp();
}

function signOut() {
  state.token = null;
  sessionStorage.removeItem("token");
  $("app").hidden = true; $("auth").hidden = false; $("logout").hidden = true; $("who").hidden = true;
}

async function showApp() {
  const me = await (await api("/users/me")).json();
  $("who").textContent = me.name || me.email; $("who").hidden = false;
  $("auth").hidden = true; $("app").hidden = false; $("logout").hidden = false;
  await loadGroups();
}

async function thumbnail(imageId, img) {
  try {
    const blob = await (await api(`/images/${imageId}/thumbnail`)).blob();
    img.src = URL.createObjectURL(blob);
  } catch (e) { img.alt = "no thumbnail: " + e.message; }
}

function renderGroup(group) {
  const node = $("group-template").content.firstElementChild.cloneNode(true);
  node.dataset.groupId = group.id;
  node.querySelector("h3").textContent =
    `${group.images.length} ${TITLES[group.tier] || "matches"}`;
  node.querySelector(".tags").textContent = group.tags.length ? "Shows: " + group.tags.join(", ") : "";
  const names = Object.fromEntries(group.images.map((i) => [i.id, i.filename]));
  node.querySelector(".pairs ul").replaceChildren(...group.pairs.map((p) => {
    const li = document.createElement("li");
    li.textContent = `${names[p.image_a] ?? p.image_a} ↔ ${names[p.image_b] ?? p.image_b} (${p.tier}): ${p.explanation}`;
    return li;
  }));
  const suggestion = group.suggested_keep || { image_id: group.images[0].id, reasons: [] };
  node.querySelector(".why").textContent = "Suggested keep: " + suggestion.reasons.join("; ");
  let keep = suggestion.image_id;
  const figures = [];
  for (const image of group.images) {
    const fig = document.createElement("figure");
    fig.dataset.imageId = image.id;
    const img = document.createElement("img");
    img.alt = image.filename;
    thumbnail(image.id, img);
    const cap = document.createElement("figcaption");
    cap.textContent = `${image.filename} · ${image.width}×${image.height} · ${(image.bytes / 1024).toFixed(0)} KiB`
      + (image.tags.length ? ` · ${image.tags.join(", ")}` : "");
    fig.append(img, cap);
    fig.addEventListener("click", () => { keep = image.id; mark(); });
    figures.push(fig);
    node.querySelector(".images").append(fig);
  }
  function mark() { for (const f of figures) f.classList.toggle("keep", Number(f.dataset.imageId) === keep); }
  mark();
  const seen = group.images.map((i) => i.id);  // a group that changed since is refused (409)
  node.querySelector(".resolve").addEventListener("click", async () => {
    const trash = seen.filter((id) => id !== keep);
    await decide(`/duplicates/groups/${group.id}/resolve`, { keep: [keep], trash, seen });
  });
  node.querySelector(".dismiss").addEventListener("click", () =>
    decide(`/duplicates/groups/${group.id}/dismiss`, { seen }));
  return node;
}

async function decide(path, body) {
  try {
    await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    say("groups-message", "Saved.");
    await loadGroups();
  } catch (e) {
    await loadGroups().catch(() => {});  // show the group as it is now
    say("groups-message", e.message, true);
  }
}

async function loadTags() {
  // The objects found in this person's photos: the filter's suggestions.
  const tags = await (await api("/images/tags")).json();
  $("object-names").replaceChildren(...tags.map((t) => {
    const opt = document.createElement("option"); opt.value = t.label; opt.label = `${t.label} (${t.images})`; return opt;
  }));
}

async function loadGroups() {
  loadTags().catch(() => {});
  let query = `tier=${state.tier}&page=${state.page}&size=${state.size}`;
  if (state.object) query += `&object=${encodeURIComponent(state.object)}`;
  const data = await (await api(`/duplicates/groups?${query}`)).json();
  const box = $("groups");
  box.replaceChildren(...data.items.map(renderGroup));
  const pages = Math.max(1, Math.ceil(data.total / state.size));
  $("page-info").textContent = `page ${state.page} of ${pages} · ${data.total} group(s)`;
  $("prev").disabled = state.page <= 1; $("next").disabled = state.page >= pages;
  if (!data.total) say("groups-message", state.object ? `No groups in this tier show "${state.object}".` : "No groups in this tier.");
  else say("groups-message", "");
}

async function upload(files) {
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  say("upload-message", `Uploading ${files.length} file(s)…`);
  const result = await (await api("/images/upload", { method: "POST", body: form })).json();
  $("rejected").replaceChildren(...result.rejected.map((r) => {
    const li = document.createElement("li"); li.textContent = `${r.filename}: ${r.reason}`; return li;
  }));
  const bar = $("progress"); bar.hidden = false;
  for (;;) {
    const job = await (await api(`/jobs/${result.job_id}`)).json();
    bar.max = Math.max(1, job.total); bar.value = job.done + job.failed;
    say("upload-message", `Analysed ${job.done + job.failed} of ${job.total}` + (job.failed ? ` (${job.failed} failed)` : ""));
    if (job.state === "done" || job.state === "failed") {
      for (const f of job.failures) {
        const li = document.createElement("li"); li.textContent = `${f.filename}: ${f.reason}`; $("rejected").append(li);
      }
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await loadGroups();
}

document.addEventListener("DOMContentLoaded", () => {
  const form = $("login-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await signIn(form.email.value, form.password.value); say("auth-message", ""); }
    catch (e) { say("auth-message", e.message, true); }
  });
  $("register").addEventListener("click", async () => {
    if (!form.reportValidity()) return;
    try {
      await api("/auth/register", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: form.email.value, password: form.password.value, name: form.name.value }) });
      await signIn(form.email.value, form.password.value);
    } catch (e) { say("auth-message", e.message, true); }
  });
  $("logout").addEventListener("click", signOut);
  $("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = $("files").files;
    if (!files.length) { say("upload-message", "Choose some photos first.", true); return; }
    try { await upload(files); } catch (e) { say("upload-message", e.message, true); }
  });
  for (const b of document.querySelectorAll("#tiers button")) {
    b.addEventListener("click", async () => {
      for (const o of document.querySelectorAll("#tiers button")) o.classList.toggle("active", o === b);
      state.tier = b.dataset.tier; state.page = 1; await loadGroups();
    });
  }
  $("filter-form").addEventListener("submit", async (ev) => {
    ev.preventDefault(); state.object = $("object-filter").value.trim(); state.page = 1; await loadGroups();
  });
  $("clear-filter").addEventListener("click", async () => {
    $("object-filter").value = ""; state.object = ""; state.page = 1; await loadGroups();
  });
  $("prev").addEventListener("click", async () => { state.page -= 1; await loadGroups(); });
  $("next").addEventListener("click", async () => { state.page += 1; await loadGroups(); });
  if (state.token) showApp().catch(() => signOut());
});
