// The Trash: trashed photos, newest first, with restore and "empty trash" (which asks first).
// Uses app.js's helpers.
"use strict";

const trashView = { page: 1, size: 48, items: [] };

function trashSelected() {
  return [...document.querySelectorAll("#trash-items input:checked")].map((i) => Number(i.value));
}

function trashSelectionChanged() {
  const n = trashSelected().length;
  $("trash-restore").disabled = n === 0;
  $("trash-restore").textContent = n ? `Restore ${plural(n, "photo")}` : "Restore selected";
}

async function loadTrash() {
  const data = await json(`/trash?page=${trashView.page}&size=${trashView.size}`);
  trashView.items = data.items; trashView.total = data.total;
  $("trash-items").replaceChildren(...data.items.map((image) => {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox"; box.value = String(image.id);
    box.addEventListener("change", trashSelectionChanged);
    const img = document.createElement("img");
    img.alt = ""; img.loading = "lazy";
    setImage(img, image.id);
    const name = document.createElement("span");
    name.textContent = `${image.filename} · ${bytes(image.bytes)}`;
    label.append(box, img, name);
    li.append(label);
    return li;
  }));
  const pages = Math.max(1, Math.ceil(data.total / trashView.size));
  $("trash-page-info").textContent = `page ${trashView.page} of ${pages} · ${plural(data.total, "photo")}`;
  $("trash-prev").disabled = trashView.page <= 1; $("trash-next").disabled = trashView.page >= pages;
  $("trash-empty").disabled = data.total === 0;
  $("trash-select-all").disabled = data.total === 0;
  say("trash-message", data.total ? "" : "The trash is empty.");
  trashSelectionChanged();
}

async function restoreTrash(ids) {
  try {
    const out = await postJSON("/trash/restore", { image_ids: ids });
    toast(`Saved. ${plural(out.restored, "photo")} restored.`);
  } catch (e) { toast(e.message, null, true); }
  await loadTrash().catch((e) => say("trash-message", e.message, true));
  loadCounts().catch(() => {});
}

async function emptyTrash() {
  const total = trashView.total || 0;
  const ok = await confirmDialog("Empty the trash?",
    `${plural(total, "photo")} will be deleted for good. This cannot be undone.`, "Delete for good");
  if (!ok) return;
  try {
    const out = await json("/trash", { method: "DELETE" });
    toast(`Saved. ${plural(out.deleted, "photo")} deleted, ${bytes(out.bytes_freed)} freed.`);
  } catch (e) { toast(e.message, null, true); }
  await loadTrash().catch((e) => say("trash-message", e.message, true));
  loadCounts().catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  $("trash-select-all").addEventListener("click", () => {
    const boxes = [...document.querySelectorAll("#trash-items input")];
    const all = boxes.every((b) => b.checked);
    for (const b of boxes) b.checked = !all;
    trashSelectionChanged();
  });
  $("trash-restore").addEventListener("click", () => restoreTrash(trashSelected()));
  $("trash-empty").addEventListener("click", emptyTrash);
  $("trash-prev").addEventListener("click", () => { trashView.page -= 1; loadTrash(); });
  $("trash-next").addEventListener("click", () => { trashView.page += 1; loadTrash(); });
});
