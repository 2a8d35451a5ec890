// Keyboard shortcuts, Immich's as a base (keep all, trash all but one, open the viewer,
// next/previous group, confirm), listed under "?". Uses app.js, review.js and viewer.js.
"use strict";

function groupNodes() { return [...document.querySelectorAll("#groups .group")]; }

function currentGroup() {
  const inFocus = document.activeElement && document.activeElement.closest && document.activeElement.closest(".group");
  return inFocus || groupNodes()[0] || null;
}

function focusGroup(node) {
  if (!node) return;
  node.focus();
  node.scrollIntoView({ block: "start", behavior: "smooth" });
}

function moveGroup(step) {
  const nodes = groupNodes();
  if (!nodes.length) return;
  const here = nodes.indexOf(currentGroup());
  const inGroup = document.activeElement && document.activeElement.closest && document.activeElement.closest(".group");
  const next = inGroup ? here + step : (step > 0 ? 0 : nodes.length - 1);
  if (next >= 0 && next < nodes.length) focusGroup(nodes[next]);
  else if (next >= nodes.length && !$("next").disabled) $("next").click();
  else if (next < 0 && !$("prev").disabled) $("prev").click();
  else focusGroup(nodes[here]); // the last (or first) group: at least its own card in focus
}

function focusedImageId() {
  const fig = document.activeElement && document.activeElement.closest && document.activeElement.closest("figure[data-image-id]");
  return fig ? Number(fig.dataset.imageId) : null;
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (document.querySelector("dialog[open]")) return; // dialogs handle their own keys
  if ($("app").hidden) return;
  const tag = ev.target.tagName;
  const typing = tag === "INPUT" && !["radio", "checkbox"].includes(ev.target.type) || tag === "TEXTAREA" || tag === "SELECT";
  if (typing) return;
  if (ev.key === "?") { ev.preventDefault(); $("help-dialog").showModal(); return; }
  if (ev.key === "u" && state.lastUndo) { ev.preventDefault(); $("toast-undo").click(); return; }
  if (state.tier === "trash") return;
  const node = currentGroup();
  const g = node && node.review;
  const onControl = tag === "BUTTON" || tag === "A" || tag === "SUMMARY";
  const actions = {
    j: () => moveGroup(1), ArrowRight: () => moveGroup(1), n: () => moveGroup(1),
    k: () => moveGroup(-1), ArrowLeft: () => moveGroup(-1), p: () => moveGroup(-1),
    a: () => g && g.keepAll(),
    d: () => g && g.keepOnly(focusedImageId() ?? (g.group.suggested_keep || { image_id: g.group.images[0].id }).image_id),
    x: () => { const id = focusedImageId(); if (g && id) g.toggle(id); },
    v: () => g && openViewer(g.group, focusedImageId()),
    " ": () => g && openViewer(g.group, focusedImageId()),
    Enter: () => g && g.confirm(),
  };
  if (onControl && (ev.key === "Enter" || ev.key === " ")) return; // the control's own action
  if (tag === "INPUT" && (ev.key.startsWith("Arrow") || ev.key === " ")) return; // a radio's own keys
  if (/^[1-9]$/.test(ev.key) && g) {
    const image = g.group.images[Number(ev.key) - 1];
    if (image) { ev.preventDefault(); g.keepOnly(image.id); }
    return;
  }
  const act = actions[ev.key];
  if (act) { ev.preventDefault(); act(); }
}

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("keydown", onKey);
  $("help").addEventListener("click", () => $("help-dialog").showModal());
});
