// Duplicate Image Finder web UI: plain JavaScript against the /api/v1 HTTP API.
// This file holds what every other script uses: the API client (cookie session with its CSRF
// header, or a bearer token where the server has no cookie sign-in), the address (tier, page,
// sort in the URL), the toast with Undo, the confirm dialog, and sign-in/out.
"use strict";

const API = (window.DUPFINDER_API || "") + "/api/v1";
const params0 = new URLSearchParams(window.location.search);
const TIERS = ["exact", "near", "similar", "trash"];
const state = {
  token: sessionStorage.getItem("token"), // only when the server offers no cookie session
  tier: TIERS.includes(params0.get("tier")) ? params0.get("tier") : "exact",
  page: Math.max(1, parseInt(params0.get("page") || "1", 10) || 1),
  sort: params0.get("sort") || "",
  object: params0.get("object") || "",
  size: 10,
  user: null,
};
const TITLES = { exact: "identical copies", near: "versions of one photo", similar: "shots of one scene" };
const $ = (id) => document.getElementById(id);
const UNSAFE = ["POST", "PUT", "PATCH", "DELETE"];

function cookie(name) {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

// Headers that authenticate a request: the bearer token, or the CSRF token that a cookie
// session needs on every unsafe method (the cookie itself goes with the request).
function authHeaders(method = "GET") {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const csrf = cookie("dupfinder_csrf");
  if (csrf && UNSAFE.includes(method.toUpperCase())) headers["X-CSRF-Token"] = csrf;
  return headers;
}

async function api(path, options = {}) {
  const method = options.method || "GET";
  const headers = Object.assign(authHeaders(method), options.headers || {});
  const response = await fetch(API + path, Object.assign({ credentials: "same-origin" }, options, { headers }));
  if (response.status === 401 && state.user && !path.startsWith("/auth/")) showSignedOut("Your session has ended; sign in again.");
  if (!response.ok) {
    let detail = response.statusText || `HTTP ${response.status}`;
    try {
      const body = await response.json();
      if (typeof body.detail === "string") detail = body.detail;
      else if (Array.isArray(body.detail)) detail = body.detail.map((d) => d.msg).join("; ");
    } catch (e) { /* not JSON */ }
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return response;
}

async function json(path, options = {}) {
  return (await api(path, options)).json();
}

function postJSON(path, body, method = "POST") {
  return json(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function say(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", isError);
}

function bytes(n) {
  if (n == null) return "?";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function plural(n, one, many = one + "s") { return `${n} ${n === 1 ? one : many}`; }

// An image of the API: with a cookie session the browser sends it with <img src>; with a
// bearer token it must be fetched and shown from a blob.
function setImage(img, imageId, kind = "thumbnail") {
  const url = `${API}/images/${imageId}/${kind}`;
  if (!state.token) { img.src = url; return; }
  api(`/images/${imageId}/${kind}`).then((r) => r.blob())
    .then((blob) => { img.src = URL.createObjectURL(blob); })
    .catch((e) => { img.alt = `${img.alt} (not shown: ${e.message})`; });
}

// Files sent as multipart form data with the upload's progress (XMLHttpRequest, not fetch:
// only it reports how much of a large body has been sent). Resolves with the 202 answer.
function sendFiles(path, items, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    // The file's own name: the server refuses paths (a folder's photos are shown with theirs).
    for (const { file } of items) form.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", API + path);
    xhr.withCredentials = true;
    for (const [k, v] of Object.entries(authHeaders("POST"))) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener("progress", (ev) => { if (ev.lengthComputable) onProgress(ev.loaded, ev.total); });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 202) { resolve(body); watchImports(); } // the new job shows in "Recent imports"
      else reject(new Error(body.detail || `the upload was refused (HTTP ${xhr.status})`));
    });
    xhr.addEventListener("error", () => reject(new Error("the upload failed; check the connection and retry")));
    xhr.send(form);
  });
}

// ---- the address: tier, page, sort and filter survive a reload and can be shared ----
function writeAddress(push = false) {
  const p = new URLSearchParams();
  if (state.tier !== "exact") p.set("tier", state.tier);
  if (state.page > 1) p.set("page", String(state.page));
  if (state.sort) p.set("sort", state.sort);
  if (state.object) p.set("object", state.object);
  const url = window.location.pathname + (p.toString() ? "?" + p : "");
  if (url !== window.location.pathname + window.location.search) {
    window.history[push ? "pushState" : "replaceState"](null, "", url);
  }
}

// ---- toast: "Saved." stays until the next message or a timeout, with Undo when possible ----
let toastTimer = null;
function toast(text, undo = null, isError = false) {
  $("toast-text").textContent = text;
  $("toast").classList.toggle("error", isError);
  $("toast").hidden = false;
  const button = $("toast-undo");
  button.hidden = !undo;
  button.onclick = undo ? async () => { state.lastUndo = null; hideToast(); await undo(); } : null;
  state.lastUndo = undo;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, undo ? 15000 : 6000);
}
function hideToast() { $("toast").hidden = true; clearTimeout(toastTimer); }

// ---- confirm: a modal dialog; Enter confirms, Escape cancels ----
function confirmDialog(title, text, okLabel) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    $("confirm-ok").focus();
  });
}

// ---- signing in and out ----
async function signIn(email, password) {
  // A cookie session (survives new tabs, HttpOnly); servers without it get the bearer flow.
  const response = await fetch(API + "/auth/login", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email, password }),
  });
  if (response.status === 404 || response.status === 405) {
    const body = new URLSearchParams({ username: email, password });
    state.token = (await json("/auth/token", { method: "POST", body })).access_token;
    sessionStorage.setItem("token", state.token);
  } else if (!response.ok) {
    let detail = `sign-in failed (HTTP ${response.status})`;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    if (response.status === 429) {
      const wait = response.headers.get("Retry-After");
      if (wait) detail += ` (try again in ${wait} s)`;
    }
    throw new Error(detail);
  }
  await showApp();
}

function showSignedOut(message = "") {
  state.token = null; state.user = null;
  sessionStorage.removeItem("token");
  $("app").hidden = true; $("auth").hidden = false;
  for (const id of ["logout", "logout-everywhere", "who"]) $(id).hidden = true;
  hideToast();
  say("auth-message", message, Boolean(message));
}

async function signOut(everywhere = false) {
  try { await api("/auth/logout" + (everywhere ? "?everywhere=true" : ""), { method: "POST" }); }
  catch (e) { /* an old server, or already signed out: the page forgets the session anyway */ }
  showSignedOut();
}

async function showApp() {
  const me = await json("/users/me");
  state.user = me;
  $("who").textContent = me.name || me.email; $("who").hidden = false;
  $("auth").hidden = true; $("app").hidden = false;
  $("logout").hidden = false; $("logout-everywhere").hidden = false;
  watchImports();
  await showView();
}

// The tier tabs and the trash share one place on the page; review.js and trash.js fill them.
async function showView() {
  for (const b of document.querySelectorAll("#tiers button")) {
    const on = b.dataset.tier === state.tier;
    b.classList.toggle("active", on);
    if (on) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  const inTrash = state.tier === "trash";
  $("review").hidden = inTrash; $("trash").hidden = !inTrash;
  writeAddress();
  loadCounts().catch(() => {});
  if (inTrash) await loadTrash(); else await loadGroups();
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
      await postJSON("/auth/register", { email: form.email.value, password: form.password.value, name: form.name.value });
      await signIn(form.email.value, form.password.value);
      say("auth-message", "");
    } catch (e) { say("auth-message", e.message, true); }
  });
  $("logout").addEventListener("click", () => signOut(false));
  $("logout-everywhere").addEventListener("click", () => signOut(true));
  $("toast-close").addEventListener("click", hideToast);
  // The other sources stand open where there is room; a phone shows them on request.
  if (window.matchMedia("(min-width: 641px)").matches) $("more-sources").open = true;
  for (const b of document.querySelectorAll("#tiers button")) {
    b.addEventListener("click", async () => {
      state.tier = b.dataset.tier; state.page = 1;
      writeAddress(true);
      await showView();
    });
  }
  window.addEventListener("popstate", () => {
    const p = new URLSearchParams(window.location.search);
    state.tier = TIERS.includes(p.get("tier")) ? p.get("tier") : "exact";
    state.page = Math.max(1, parseInt(p.get("page") || "1", 10) || 1);
    state.sort = p.get("sort") || ""; state.object = p.get("object") || "";
    if (state.user) showView();
  });
  // Signed in already? A cookie session (any tab) or this tab's bearer token.
  showApp().catch(() => showSignedOut());
});
