// The full-size compare view: two photos of a group side by side (or one over the other with a
// swipe line, or flickering between them), zoomed and panned together so that a quality-60 copy
// can be told from its original. Uses app.js's helpers.
"use strict";

const viewer = { group: null, zoom: 1, x: 0, y: 0, mode: "side", flicker: null, drag: null };

function viewerApply() {
  // One transform for both photos: the same spot of each stays under the same point.
  const t = `translate(${viewer.x}px, ${viewer.y}px) scale(${viewer.zoom})`;
  for (const img of document.querySelectorAll("#viewer-stage img")) img.style.transform = t;
  $("zoom-level").textContent = `${Math.round(viewer.zoom * 100)} %`;
}

function viewerZoom(factor) {
  const zoom = Math.min(16, Math.max(1, viewer.zoom * factor));
  const k = zoom / viewer.zoom;
  viewer.x *= k; viewer.y *= k; viewer.zoom = zoom;
  if (zoom === 1) { viewer.x = 0; viewer.y = 0; }
  viewerApply();
}

function viewerPan(dx, dy) {
  if (viewer.zoom === 1) return;
  viewer.x += dx; viewer.y += dy; viewerApply();
}

function viewerMode(mode) {
  viewer.mode = mode;
  const stage = $("viewer-stage");
  stage.classList.remove("side", "swipe", "flicker");
  stage.classList.add(mode);
  for (const b of document.querySelectorAll("#viewer [data-mode]")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  $("swipe").hidden = mode !== "swipe";
  clearInterval(viewer.flicker); viewer.flicker = null;
  const right = $("pane-right");
  right.classList.remove("off");
  right.style.clipPath = mode === "swipe" ? `inset(0 0 0 ${$("swipe").value}%)` : "";
  if (mode === "flicker") viewer.flicker = setInterval(() => right.classList.toggle("off"), 700);
}

function viewerShow(side, imageId) {
  const image = viewer.group.images.find((i) => i.id === imageId);
  const pane = $(side === "left" ? "pane-left" : "pane-right");
  const img = pane.querySelector("img");
  img.alt = `${side === "left" ? "Left" : "Right"}: ${image.filename}`;
  setImage(img, image.id, "file");
  const facts = [`${image.width}×${image.height}`, bytes(image.bytes), image.format].filter(Boolean).join(" · ");
  pane.querySelector("figcaption").textContent = `${image.filename} — ${facts}`;
  $(`viewer-${side}`).value = String(imageId);
}

function openViewer(group, imageId) {
  viewer.group = group;
  const keep = group.suggested_keep ? group.suggested_keep.image_id : group.images[0].id;
  const others = group.images.filter((i) => i.id !== keep);
  // The photo opened goes on the right, next to the suggested keeper (or the next member).
  let left = keep;
  let right = imageId && imageId !== keep ? imageId : (others[0] || group.images[0]).id;
  if (imageId === keep && others.length) right = others[0].id;
  for (const side of ["left", "right"]) {
    $(`viewer-${side}`).replaceChildren(...group.images.map((i, n) => {
      const o = document.createElement("option"); o.value = String(i.id); o.textContent = `${n + 1}. ${i.filename}`; return o;
    }));
  }
  viewerShow("left", left); viewerShow("right", right);
  viewer.zoom = 1; viewer.x = 0; viewer.y = 0; viewerApply();
  viewerMode("side");
  $("viewer").showModal();
  $("viewer-stage").focus();
}

function closeViewer() {
  clearInterval(viewer.flicker); viewer.flicker = null;
  if ($("viewer").open) $("viewer").close();
}

function viewerKey(ev) {
  const step = 60;
  const keys = {
    "+": () => viewerZoom(1.5), "=": () => viewerZoom(1.5), "-": () => viewerZoom(1 / 1.5),
    "0": () => { viewer.zoom = 1; viewer.x = 0; viewer.y = 0; viewerApply(); },
    ArrowLeft: () => viewerPan(step, 0), ArrowRight: () => viewerPan(-step, 0),
    ArrowUp: () => viewerPan(0, step), ArrowDown: () => viewerPan(0, -step),
    s: () => viewerMode("swipe"), f: () => viewerMode("flicker"), b: () => viewerMode("side"),
  };
  // A list or the swipe slider keeps its own arrow keys; letters work everywhere.
  if (ev.target.tagName === "SELECT" || (ev.target.tagName === "INPUT" && ev.key.startsWith("Arrow"))) return;
  const act = keys[ev.key];
  if (act) { ev.preventDefault(); ev.stopPropagation(); act(); }
}

document.addEventListener("DOMContentLoaded", () => {
  const stage = $("viewer-stage");
  $("viewer-close").addEventListener("click", closeViewer);
  $("viewer").addEventListener("close", () => { clearInterval(viewer.flicker); viewer.flicker = null; });
  $("viewer").addEventListener("keydown", viewerKey);
  $("zoom-in").addEventListener("click", () => viewerZoom(1.5));
  $("zoom-out").addEventListener("click", () => viewerZoom(1 / 1.5));
  $("zoom-fit").addEventListener("click", () => { viewer.zoom = 1; viewer.x = 0; viewer.y = 0; viewerApply(); });
  for (const b of document.querySelectorAll("#viewer [data-mode]")) b.addEventListener("click", () => viewerMode(b.dataset.mode));
  for (const side of ["left", "right"]) {
    $(`viewer-${side}`).addEventListener("change", (ev) => viewerShow(side, Number(ev.target.value)));
  }
  $("swipe").addEventListener("input", () => { $("pane-right").style.clipPath = `inset(0 0 0 ${$("swipe").value}%)`; });
  stage.addEventListener("wheel", (ev) => { ev.preventDefault(); viewerZoom(ev.deltaY < 0 ? 1.25 : 0.8); }, { passive: false });
  stage.addEventListener("pointerdown", (ev) => {
    if (ev.target.id === "swipe") return;
    viewer.drag = { x: ev.clientX, y: ev.clientY };
    stage.setPointerCapture(ev.pointerId);
  });
  stage.addEventListener("pointermove", (ev) => {
    if (!viewer.drag) return;
    viewerPan(ev.clientX - viewer.drag.x, ev.clientY - viewer.drag.y);
    viewer.drag = { x: ev.clientX, y: ev.clientY };
  });
  for (const end of ["pointerup", "pointercancel"]) stage.addEventListener(end, () => { viewer.drag = null; });
  stage.addEventListener("dblclick", () => viewerZoom(viewer.zoom > 1 ? 1 / viewer.zoom : 3));
});
