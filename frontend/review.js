// Reviewing groups: each group side by side with large previews, a KEEP / TRASH control per
// photo, what it frees, the evidence; decisions with a confirmation and Undo; bulk acceptance of
// the suggestions; counts on the tier tabs. Uses app.js's helpers.
"use strict";

const PATHS = {
  groups: "/duplicates/groups",
  counts: "/duplicates/groups/counts",
  accept: "/duplicates/groups/accept",
  undo: (id) => `/decisions/${id}/undo`,
};
const SOURCES = { UPLOAD: "Upload", API: "Google Photos", SCRAPE: "Google Photos (scraped)", FOLDER: "Folder", TAKEOUT: "Google Takeout" };
const review = { groups: [], data: null };

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// What trashing every member but the keeper would free (the server's figure when it sends one).
function freed(group) {
  if (typeof group.bytes_freed === "number") return group.bytes_freed;
  const keep = group.suggested_keep ? group.suggested_keep.image_id : null;
  return group.images.filter((i) => i.id !== keep).reduce((n, i) => n + (i.bytes || 0), 0);
}

function facts(image) {
  // One row per fact a person judges copies by; the dl keeps term and value together.
  const dl = document.createElement("dl");
  const add = (term, value) => {
    if (value == null || value === "") return;
    const dt = document.createElement("dt"); dt.textContent = term;
    const dd = document.createElement("dd");
    if (value instanceof Node) dd.append(value); else dd.textContent = value;
    dl.append(dt, dd);
  };
  add("Size", image.width ? `${image.width} × ${image.height} · ${bytes(image.bytes)}` : bytes(image.bytes));
  add("Format", image.format);
  add("Taken", when(image.taken_at));
  add("Camera", [image.camera_make, image.camera_model].filter(Boolean).join(" "));
  let source = SOURCES[image.source] || image.source;
  if (image.source_url) {
    const a = document.createElement("a");
    a.href = image.source_url; a.target = "_blank"; a.rel = "noopener noreferrer";
    a.textContent = `${source} ↗`;
    source = a;
  }
  add("Source", source);
  // Two uploads of one file look the same; when and which one tell them apart.
  add("Added", `${when(image.created_at)} · #${image.id}`);
  if (image.tags && image.tags.length) add("Shows", image.tags.join(", "));
  return dl;
}

function renderGroup(group, index) {
  const node = $("group-template").content.firstElementChild.cloneNode(true);
  node.dataset.groupId = group.id;
  node.dataset.tier = group.tier;
  const similar = group.tier === "similar";
  const title = `Group ${(state.page - 1) * state.size + index + 1}: ${group.images.length} ${TITLES[group.tier] || "matches"}`;
  node.querySelector("h3").textContent = title;
  node.setAttribute("aria-label", title);
  node.querySelector(".frees").textContent = similar ? "" : `frees ${bytes(freed(group))}`;
  node.querySelector(".action").textContent = similar
    ? "Pick the best shot: these are other shots of one scene, not copies. Nothing is trashed unless you mark it."
    : "Suggested: keep the marked copy, trash the others.";
  node.querySelector(".tags").textContent = group.tags.length ? "Shows: " + group.tags.join(", ") : "";
  const names = Object.fromEntries(group.images.map((i, n) => [i.id, `${n + 1}. ${i.filename}`]));
  node.querySelector(".pairs ul").replaceChildren(...group.pairs.map((p) => {
    const li = document.createElement("li");
    li.textContent = `${names[p.image_a] ?? p.image_a} ↔ ${names[p.image_b] ?? p.image_b} (${p.tier}): ${p.explanation}`;
    return li;
  }));
  const suggestion = group.suggested_keep || { image_id: group.images[0].id, reasons: [] };
  // Marks: similar shots start all KEEP (never trash-the-others by default).
  const marks = new Map(group.images.map((i) => [i.id, similar || i.id === suggestion.image_id ? "keep" : "trash"]));
  const figures = [];
  group.images.forEach((image, n) => {
    const fig = document.createElement("figure");
    fig.dataset.imageId = image.id;
    fig.tabIndex = 0;
    fig.setAttribute("aria-label", `Photo ${n + 1}: ${image.filename}`);
    const open = document.createElement("button");
    open.type = "button"; open.className = "preview";
    open.setAttribute("aria-label", `Open ${image.filename} full size`);
    const img = document.createElement("img");
    img.alt = image.filename; img.loading = "lazy";
    if (image.width && image.height) { img.width = image.width; img.height = image.height; }
    setImage(img, image.id);
    open.append(img);
    open.addEventListener("click", () => openViewer(group, image.id));
    const badge = document.createElement("span");
    badge.className = "badge";
    const cap = document.createElement("figcaption");
    const name = document.createElement("strong");
    name.className = "filename"; name.textContent = `${n + 1}. ${image.filename}`;
    cap.append(name);
    if (image.id === suggestion.image_id && suggestion.reasons.length) {
      const why = document.createElement("p");
      why.className = "why"; why.textContent = "Suggested keep: " + suggestion.reasons.join("; ");
      cap.append(why);
    }
    cap.append(facts(image));
    // The explicit control: two radio buttons per photo, KEEP and TRASH.
    const choice = document.createElement("fieldset");
    choice.className = "choice";
    const legend = document.createElement("legend");
    legend.className = "visually-hidden"; legend.textContent = `${image.filename}: keep or trash`;
    choice.append(legend);
    for (const value of ["keep", "trash"]) {
      const label = document.createElement("label");
      label.className = value;
      const input = document.createElement("input");
      input.type = "radio"; input.name = `g${group.id}-i${image.id}`; input.value = value;
      input.addEventListener("change", () => { marks.set(image.id, value); mark(); });
      label.append(input, document.createTextNode(value.toUpperCase()));
      choice.append(label);
    }
    cap.append(choice);
    fig.append(badge, open, cap);
    figures.push(fig);
    node.querySelector(".images").append(fig);
  });
  const resolveButton = node.querySelector(".resolve");
  function mark() {
    for (const f of figures) {
      const value = marks.get(Number(f.dataset.imageId));
      f.classList.toggle("keep", value === "keep");
      f.classList.toggle("trash", value === "trash");
      f.querySelector(".badge").textContent = value.toUpperCase();
      for (const input of f.querySelectorAll("input")) input.checked = input.value === value;
    }
    const trash = [...marks.values()].filter((v) => v === "trash").length;
    const keep = marks.size - trash;
    resolveButton.disabled = trash === 0 || keep === 0;
    resolveButton.textContent = trash ? `Trash ${plural(trash, "marked photo")}` : "Trash the marked photos";
    resolveButton.title = keep === 0 ? "Keep at least one photo" : "";
  }
  mark();
  const seen = group.images.map((i) => i.id); // a group that changed since is refused (409)
  const api_ = {
    group, node, figures,
    keepAll() { for (const id of marks.keys()) marks.set(id, "keep"); mark(); },
    keepOnly(id) { for (const k of marks.keys()) marks.set(k, k === id ? "keep" : "trash"); mark(); },
    toggle(id) { marks.set(id, marks.get(id) === "keep" ? "trash" : "keep"); mark(); },
    async confirm() {
      const trash = seen.filter((id) => marks.get(id) === "trash");
      if (!trash.length) return dismiss(group, seen);
      const keep = seen.filter((id) => marks.get(id) === "keep");
      if (!keep.length) { toast("Keep at least one photo of the group.", null, true); return; }
      const size = group.images.filter((i) => trash.includes(i.id)).reduce((n, i) => n + i.bytes, 0);
      const ok = await confirmDialog(
        `Trash ${plural(trash.length, "photo")}?`,
        `${plural(trash.length, "photo")} (${bytes(size)}) will go to the trash; ${plural(keep.length, "photo")} kept. You can undo this or restore them from the Trash.`,
        `Trash ${plural(trash.length, "photo")}`);
      if (ok) await resolve(group, keep, trash, seen);
    },
  };
  resolveButton.addEventListener("click", () => api_.confirm());
  node.querySelector(".dismiss").addEventListener("click", () => dismiss(group, seen));
  node.querySelector(".compare").addEventListener("click", () => openViewer(group, null));
  node.review = api_;
  return node;
}

function undoDecision(ids, what) {
  if (!ids.length || ids.some((id) => id == null)) return null;
  return async () => {
    try {
      for (const id of ids) await json(PATHS.undo(id), { method: "POST" });
      toast(`Undone: ${what}.`);
    } catch (e) { toast(`Could not undo: ${e.message}`, null, true); }
    await refresh();
  };
}

async function decide(path, body, done, undone) {
  const nodes = [...document.querySelectorAll("#groups .group")];
  const at = nodes.findIndex((n) => n.contains(document.activeElement));
  try {
    const decision = await postJSON(path, body);
    toast(`Saved. ${done}.`, undoDecision([decision.id], undone));
  } catch (e) {
    toast(e.message, null, true);
  }
  await refresh();
  // Keyboard review goes on where it was: the group that took the decided one's place.
  const after = document.querySelectorAll("#groups .group");
  if (at >= 0 && after.length) after[Math.min(at, after.length - 1)].focus();
}

function resolve(group, keep, trash, seen) {
  return decide(`${PATHS.groups}/${group.id}/resolve`, { keep, trash, seen },
    `${plural(trash.length, "photo")} moved to the trash`, "the group and its photos are back");
}

function dismiss(group, seen) {
  return decide(`${PATHS.groups}/${group.id}/dismiss`, { seen }, "all kept, marked as not duplicates",
    "the group is back for review");
}

async function refresh() {
  await Promise.all([loadGroups().catch((e) => say("groups-message", e.message, true)), loadCounts().catch(() => {})]);
}

async function loadCounts() {
  let counts;
  try {
    counts = await json(PATHS.counts);
  } catch (e) {
    if (e.status !== 404 && e.status !== 422) throw e;
    // A server without the counts endpoint: one small page per tier gives its total.
    counts = {};
    for (const tier of ["exact", "near", "similar"]) counts[tier] = (await json(`${PATHS.groups}?tier=${tier}&size=1`)).total;
  }
  // The trash tab's figure: the size of the list (absent on servers without a trash).
  counts.trash = await json("/trash?size=1").then((p) => p.total, () => undefined);
  for (const b of document.querySelectorAll("#tiers button")) {
    const n = counts[b.dataset.tier];
    b.querySelector(".count").textContent = typeof n === "number" ? `(${n})` : "";
  }
  review.counts = counts;
  return counts;
}

async function loadTags() {
  // The objects found in this person's photos: the filter's suggestions.
  const tags = await json("/images/tags");
  $("object-names").replaceChildren(...tags.map((t) => {
    const opt = document.createElement("option"); opt.value = t.label; opt.label = `${t.label} (${t.images})`; return opt;
  }));
}

function emptyState() {
  const box = $("empty");
  const tierName = { exact: "exact duplicates", near: "near-duplicates", similar: "similar shots" }[state.tier];
  const p = document.createElement("p");
  const hint = document.createElement("p");
  hint.className = "hint";
  if (state.object) {
    p.textContent = `No groups in this tier show "${state.object}".`;
    hint.textContent = "Press Show all to see every group.";
  } else {
    p.textContent = `No ${tierName} to review.`;
    const others = Object.entries(review.counts || {}).filter(([t, n]) => t !== state.tier && t !== "trash" && n > 0);
    hint.textContent = others.length
      ? `Look in the other tabs: ${others.map(([t, n]) => `${n} ${t}`).join(", ")}.`
      : "Add photos above: drop them (or a whole folder) anywhere on this page, import a Takeout archive or pick them in Google Photos. They are compared as soon as they arrive.";
  }
  box.replaceChildren(p, hint);
}

async function loadGroups() {
  loadTags().catch(() => {});
  let query = `tier=${state.tier}&page=${state.page}&size=${state.size}`;
  if (state.sort) query += `&sort=${encodeURIComponent(state.sort)}`;
  if (state.object) query += `&object=${encodeURIComponent(state.object)}`;
  const data = await json(`${PATHS.groups}?${query}`);
  const pages = Math.max(1, Math.ceil(data.total / state.size));
  if (state.page > pages) { state.page = pages; writeAddress(); return loadGroups(); }
  review.data = data;
  const box = $("groups");
  box.replaceChildren(...data.items.map(renderGroup));
  $("page-info").textContent = `page ${state.page} of ${pages} · ${plural(data.total, "group")}`;
  $("prev").disabled = state.page <= 1; $("next").disabled = state.page >= pages;
  $("pager").hidden = pages <= 1;
  $("empty").hidden = data.total > 0;
  if (!data.total) emptyState();
  const bulk = state.tier !== "similar" && data.total > 0;
  $("accept-page").hidden = !bulk; $("accept-tier").hidden = !bulk;
  say("groups-message", "");
}

function currentGroups() {
  return [...document.querySelectorAll("#groups .group")].map((n) => n.review);
}

// Bulk: ask the server what accepting would do (dry run), confirm with those figures, then do it.
async function acceptSuggestions(wholeTier) {
  const groupIds = wholeTier ? null : currentGroups().map((g) => g.group.id);
  const body = { tier: state.tier, group_ids: groupIds, dry_run: true };
  try {
    const plan = await postJSON(PATHS.accept, body);
    if (!plan.groups) { toast("Nothing to accept here."); return; }
    const scope = wholeTier ? `every ${state.tier} group` : "the groups on this page";
    const ok = await confirmDialog(
      `Accept the suggestions for ${plural(plan.groups, "group")}?`,
      `Keeps the suggested copy of ${scope} and moves ${plural(plan.images_trashed, "photo")} to the trash, freeing ${bytes(plan.bytes_freed)}. You can undo it or restore them from the Trash.`,
      `Trash ${plural(plan.images_trashed, "photo")}`);
    if (!ok) return;
    const done = await postJSON(PATHS.accept, Object.assign(body, { dry_run: false }));
    toast(`Saved. ${plural(done.groups, "group")} resolved, ${plural(done.images_trashed, "photo")} trashed, ${bytes(done.bytes_freed)} freed.`,
      undoDecision(done.decision_ids || [], `${plural(done.groups, "group")} and their photos are back`));
  } catch (e) { toast(e.message, null, true); }
  await refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("sort").value = state.sort;
  $("object-filter").value = state.object;
  $("sort").addEventListener("change", async () => {
    state.sort = $("sort").value; state.page = 1; writeAddress(true); await loadGroups();
  });
  $("filter-form").addEventListener("submit", async (ev) => {
    ev.preventDefault(); state.object = $("object-filter").value.trim(); state.page = 1; writeAddress(true); await loadGroups();
  });
  $("clear-filter").addEventListener("click", async () => {
    $("object-filter").value = ""; state.object = ""; state.page = 1; writeAddress(true); await loadGroups();
  });
  $("prev").addEventListener("click", async () => { state.page -= 1; writeAddress(true); await loadGroups(); });
  $("next").addEventListener("click", async () => { state.page += 1; writeAddress(true); await loadGroups(); });
  $("accept-page").addEventListener("click", () => acceptSuggestions(false));
  $("accept-tier").addEventListener("click", () => acceptSuggestions(true));
  for (const [id, format] of [["export-json", "json"], ["export-csv", "csv"]]) {
    const link = $(id);
    link.href = `${API}/export?format=${format}`;
    link.addEventListener("click", async (ev) => {
      if (!state.token) return; // the cookie session downloads it directly
      ev.preventDefault();
      try {
        const blob = await (await api(`/export?format=${format}`)).blob();
        const a = document.createElement("a");
        a.href = URL.createObjectURL(blob); a.download = `dupfinder-export.${format}`; a.click();
      } catch (e) { toast(e.message, null, true); }
    });
  }
});
