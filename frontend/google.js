// "Google Photos": connect (Google's sign-in page, then back here), pick photos in Google's own
// picker (a new tab, never an iframe) and follow their import to its end.
// Loaded after app.js, whose globals it uses: API, state (the token), api, say, loadGroups.
"use strict";

(() => {
  const el = (id) => document.getElementById(id);
  const G = "/integrations/google";
  let following = null;

  function show(status) {
    const connected = status.connected && !status.needs_reconnect;
    el("google-connect").hidden = connected;
    el("google-connect").textContent = status.needs_reconnect ? "Connect again" : "Connect Google Photos";
    el("google-pick").hidden = !connected;
    el("google-disconnect").hidden = !status.connected;
    if (status.needs_reconnect) say("google-status", status.last_error || "Connect Google Photos again.", true);
    else if (connected) say("google-status", `Connected as ${status.email || "your Google account"}.`);
    else say("google-status", "Not connected.");
  }

  async function refresh() {
    try {
      show(await (await api(G)).json());
    } catch (e) {
      // 503: the server has no Google client; say how it is switched on, offer nothing.
      say("google-status", e.message, true);
      for (const id of ["google-connect", "google-pick", "google-disconnect"]) el(id).hidden = true;
    }
  }

  function list(problems) {
    el("google-problems").replaceChildren(...problems.map((p) => {
      const li = document.createElement("li"); li.textContent = `${p.filename}: ${p.reason}`; return li;
    }));
  }

  async function follow(pickId) {
    following = pickId;
    const bar = el("google-progress");
    bar.hidden = false; bar.value = 0; bar.max = 1;
    while (following === pickId) {
      const pick = await (await api(`${G}/picks/${pickId}`)).json();
      const handled = pick.imported + pick.already_present + pick.skipped + pick.failed;
      bar.max = Math.max(1, pick.picked); bar.value = handled;
      if (pick.state === "waiting") {
        say("google-message", "Waiting for you to pick photos in the Google Photos tab…");
      } else if (pick.state === "importing") {
        say("google-message", `Importing ${handled} of ${pick.picked}…`);
      } else {
        list(pick.problems);
        if (pick.state === "done") {
          say("google-message", `Import finished: ${pick.imported} new photo(s), ${pick.already_present} already here, ` +
            `${pick.skipped} skipped, ${pick.failed} failed.`);
          if (pick.job_id) { watchImports(); await waitForAnalysis(pick.job_id); }
          if (typeof loadGroups === "function") await loadGroups();
        } else {
          say("google-message", pick.error || `The pick ${pick.state}.`, true);
          await refresh();
        }
        bar.hidden = true;
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async function waitForAnalysis(jobId) {
    for (let i = 0; i < 600; i++) {
      const job = await (await api(`/jobs/${jobId}`)).json();
      if (job.state === "done" || job.state === "failed") {
        say("google-message", el("google-message").textContent + " Analysis finished.");
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async function pick() {
    // Opened now, inside the click, so that no pop-up blocker stops it; pointed at Google's
    // picker once the session exists.
    const tab = window.open("", "_blank");
    try {
      const started = await (await api(`${G}/picks`, { method: "POST" })).json();
      if (tab) { tab.opener = null; tab.location.href = started.picker_uri; }
      else say("google-message", "Allow pop-ups for this site, or open the picker: " + started.picker_uri);
      list([]);
      if (started.notice) say("google-status", started.notice);
      await follow(started.id);
    } catch (e) {
      if (tab) tab.close();
      say("google-message", e.message, true);
    }
  }

  function fromRedirect() {
    // Back from Google's sign-in: /?google=connected, or /?google=error&message=...
    const params = new URLSearchParams(window.location.search);
    const outcome = params.get("google");
    if (!outcome) return;
    if (outcome === "connected") say("google-message", "Google Photos is connected.");
    else say("google-message", params.get("message") || "Google Photos could not be connected.", true);
    window.history.replaceState(null, "", window.location.pathname);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const panel = el("google-panel");
    if (!panel) return;
    fromRedirect();
    el("google-connect").addEventListener("click", async () => {
      try {
        const { authorization_url } = await (await api(`${G}/connect`, { method: "POST" })).json();
        window.location.assign(authorization_url);
      } catch (e) { say("google-message", e.message, true); }
    });
    el("google-disconnect").addEventListener("click", async () => {
      following = null;
      try {
        await api(G, { method: "DELETE" });
        say("google-message", "Disconnected: this app's access to your Google Photos was revoked.");
      } catch (e) { say("google-message", e.message, true); }
      await refresh();
    });
    el("google-pick").addEventListener("click", async () => {
      el("google-pick").disabled = true;
      try { await pick(); } finally { el("google-pick").disabled = false; }
    });
    // Refresh whenever the signed-in part of the page appears (after sign-in, or on load).
    const app = el("app");
    new MutationObserver(() => { if (!app.hidden) refresh(); }).observe(app, { attributes: true, attributeFilter: ["hidden"] });
    if (!app.hidden) refresh();
  });
})();
