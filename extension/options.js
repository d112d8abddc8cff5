import { ANYWHERE, OWN_PIXEL_PERMISSIONS, WEBMAIL, load, normaliseServer, originPattern, post } from "./lib.js";

const $ = (id) => document.getElementById(id);

function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Math.floor(Date.now() / 1000) - ts);
  if (s < 90) return "just now";
  if (s < 5400) return `${Math.round(s / 60)} minutes ago`;
  if (s < 129600) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86400)} days ago`;
}

let generation = 0;

async function render() {
  const mine = ++generation;
  const state = await load();
  $("server").value = $("server").value || state.server;
  if (state.deviceId) {
    const serverOk = await chrome.permissions.contains({ origins: [state.server + "/*"] });
    $("paired-line").textContent = `Paired as ${state.user} with ${state.server} (device ${state.deviceId}).`;
    $("health-line").textContent = serverOk
      ? `Last beacon: ${ago(state.lastActed)}. Last report to the server: ${ago(state.lastHeartbeat)}.`
      : `This browser no longer lets the extension reach ${state.server}: pair again.`;
    $("pair-title").textContent = "Pair again";
    $("unpair-section").hidden = false;
    $("revoke-command").textContent = `mailbeacon device revoke ${state.deviceId}`;
    document.body.dataset.state = serverOk ? "paired" : "no-server-access";
  } else {
    $("paired-line").textContent = "Not paired.";
    $("health-line").textContent = "";
    $("unpair-section").hidden = true;
    document.body.dataset.state = "unpaired";
  }
  $("error-line").textContent = state.lastError;
  const items = [];
  const rows = WEBMAIL.map((s) => ({ label: s.label, origins: [...s.pages, ...s.extra], custom: false }));
  for (const o of state.custom) rows.push({ label: o.replace(/\/\*$/, ""), origins: [o], custom: true });
  rows.push({ label: ANYWHERE.label, origins: ANYWHERE.origins, custom: false });
  for (const row of rows) {
    const on = await chrome.permissions.contains({ origins: row.origins });
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = row.label;
    const status = document.createElement("span");
    status.textContent = on ? "on" : "off";
    status.className = on ? "on" : "muted";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small secondary";
    button.textContent = on ? "Turn off" : "Turn on";
    button.setAttribute("aria-label", `${on ? "Turn off" : "Turn on"} ${row.label}`);
    button.addEventListener("click", () => toggle(row, !on));
    const right = document.createElement("span");
    right.append(status, button);
    li.append(label, right);
    items.push(li);
  }
  if (mine === generation) $("site-list").replaceChildren(...items); // only the latest render draws
}

async function sitesChanged() {
  await chrome.runtime.sendMessage({ type: "sites-changed" });
  await render();
}

function toggle(row, on) {
  // permissions.request must be the first thing a click does (it needs the user's gesture)
  const asked = on ? chrome.permissions.request({ origins: row.origins }) : chrome.permissions.remove({ origins: row.origins });
  asked.then(async (ok) => {
    if (!on && row.custom) {
      const state = await load();
      await chrome.storage.local.set({ custom: state.custom.filter((o) => !row.origins.includes(o)) });
    }
    if (!ok && on) $("error-line").textContent = "Access was not granted, so the extension cannot see that site.";
    await sitesChanged();
  });
}

$("other").addEventListener("submit", (ev) => {
  ev.preventDefault();
  let origin;
  try { origin = originPattern($("other-site").value); } catch (_) {
    $("error-line").textContent = "Type the webmail's address, like https://webmail.example.com";
    return;
  }
  chrome.permissions.request({ origins: [origin] }).then(async (ok) => {
    if (!ok) { $("error-line").textContent = "Access was not granted, so the extension cannot see that site."; return; }
    const state = await load();
    if (!state.custom.includes(origin)) await chrome.storage.local.set({ custom: [...state.custom, origin] });
    $("other-site").value = "";
    await sitesChanged();
  });
});

$("pair").addEventListener("submit", (ev) => {
  ev.preventDefault();
  let server;
  try { server = normaliseServer($("server").value); } catch (e) {
    $("error-line").textContent = `Server URL: ${e.message}`;
    return;
  }
  const code = $("code").value.trim();
  // asked now (the click is the user's gesture), in one prompt: access to the server (to send your
  // views there) and to stop your own pixels on any page (block rules; which of them matched)
  chrome.permissions.request({ origins: [server + "/*"], permissions: OWN_PIXEL_PERMISSIONS }).then(async (granted) => {
    if (!granted) {
      $("error-line").textContent = `Pairing needs access to ${server} (to send your views there) and to block your own pixels.`;
      return;
    }
    $("pair-button").disabled = true;
    try {
      const r = await post(server, "/api/v1/devices/pair", { code, name: navigator.userAgentData
        ? `${navigator.userAgentData.brands.map((b) => b.brand).filter((b) => !/Not/.test(b)).join(" ")} on ${navigator.userAgentData.platform}`
        : "browser extension" });
      if (r.status !== 201) {
        $("error-line").textContent = (r.data && r.data.error) || `The server answered ${r.status}.`;
        return;
      }
      await chrome.storage.local.set({ server, deviceId: r.data.device_id, secret: r.data.secret, user: r.data.user || "your mailbeacon account",
                                       lastError: "", lastActed: 0 });
      $("code").value = "";
      await chrome.runtime.sendMessage({ type: "heartbeat" });
      await render();
    } catch (e) {
      $("error-line").textContent = `Cannot reach ${server}: ${e.message}`;
    } finally {
      $("pair-button").disabled = false;
    }
  });
});

$("unpair").addEventListener("click", async () => {
  const state = await load();
  await chrome.storage.local.remove(["deviceId", "secret", "user", "lastActed", "lastHeartbeat", "lastError"]);
  if (state.server) await chrome.permissions.remove({ origins: [state.server + "/*"] });
  await sitesChanged();
});

chrome.storage.onChanged.addListener(() => render());
render();
