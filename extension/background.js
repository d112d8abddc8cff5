// The service worker: turns the sender's own views into signed self-view beacons.
//
// 1. Direct loads anywhere: the user's own pixels (the server lists them) are blocked on every
//    site, and each blocked load becomes a beacon (own_pixels.js). On the sites it may read, an
//    image request to the paired server's /o/ pixels is also seen here (webRequest, observe
//    only) and becomes a beacon at once; the server refuses beacons for mail this user did not
//    send, which then count.
// 2. Through a webmail's image proxy: the content script (content.js, registered only on the
//    webmail sites the user turned on) finds our pixels in the page and asks here; we check
//    the token with the server ("is it mine?"), beacon, and the page keeps the image blank.
// 3. A heartbeat tells the server which webmail sites this browser lets us read and when we
//    last acted, so `mailbeacon why` can say "no access to outlook.office.com".

import { HEARTBEAT, WEBMAIL, grantedSites, load, pixelToken, post, signed } from "./lib.js";
import { checkMatches, checkSoon, resetOwnPixels, syncOwnPixels } from "./own_pixels.js";

const recent = new Map(); // token -> {at, own}: one beacon per token every few seconds
const AGAIN_AFTER_MS = 5000;
const SCRIPT_ID = "mailbeacon-webmail";
const OWN_PIXELS = "own-pixels";

async function remember(values) {
  await chrome.storage.local.set(values);
}

async function beacon(state, token, how) {
  const r = await post(state.server, "/api/v1/self-view", await signed(state, token, { token }));
  if (r.status === 204) {
    await remember({ lastActed: Math.floor(Date.now() / 1000), lastError: "" });
    heartbeatSoon();
    return true;
  }
  if (r.status === 401 && r.data && /not paired \(any more\)|unpaired/.test(r.data.error || "")) {
    await remember({ lastError: r.data.error });
  }
  console.debug("mailbeacon: beacon", how, r.status, r.data);
  return false;
}

async function check(state, token) {
  const r = await post(state.server, "/api/v1/self-view/check", await signed(state, token, { token }));
  if (r.status !== 200) {
    if (r.data && r.data.error) await remember({ lastError: r.data.error });
    return { workspace: false, sender: false };
  }
  return r.data;
}

// A pixel of ours is being shown: is it the sender's own view? (true: beaconed)
async function seen(token, how) {
  const state = await load();
  if (!state.deviceId) return false;
  const prev = recent.get(token);
  if (prev && Date.now() - prev.at < AGAIN_AFTER_MS) return prev.pending ? prev.pending : prev.own;
  const entry = { at: Date.now(), own: false, pending: null };
  recent.set(token, entry);
  entry.pending = (async () => {
    if (how === "dom") {
      const who = await check(state, token);
      if (!who.sender) return false;
    }
    return beacon(state, token, how);
  })();
  entry.own = await entry.pending;
  if (recent.size > 500) recent.delete(recent.keys().next().value);
  return entry.own;
}

// A block rule of ours matched at `at` (ms): a beacon, unless webRequest saw that load already.
async function blocked(token, at) {
  const prev = recent.get(token);
  if (prev && prev.at >= at - AGAIN_AFTER_MS) return false;
  recent.delete(token);
  return seen(token, "blocked");
}

chrome.webRequest.onBeforeRequest.addListener(
  (details) => {
    if (details.initiator && details.initiator.startsWith("chrome-extension://")) return;
    load().then((state) => {
      const token = pixelToken(state.server, details.url);
      if (token && state.deviceId) seen(token, "request");
    });
  },
  { urls: ["<all_urls>"], types: ["image"] },
);

chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  if (msg && msg.type === "pixel" && typeof msg.token === "string") {
    seen(msg.token, "dom").then((own) => reply({ own }));
    return true; // answers asynchronously
  }
  if (msg && msg.type === "sites-changed") {
    registerScripts().then(() => heartbeat()).then(() => reply({ ok: true }));
    return true;
  }
  if (msg && msg.type === "heartbeat") {
    heartbeat().then((ok) => reply({ ok }));
    return true;
  }
  return false;
});

// -- the content script, on the webmail sites the user turned on ----------------------------

async function enabledPages() {
  const state = await load();
  const pages = [];
  for (const site of WEBMAIL) {
    if (await chrome.permissions.contains({ origins: site.pages })) pages.push(...site.pages);
  }
  for (const origin of state.custom) {
    if (await chrome.permissions.contains({ origins: [origin] })) pages.push(origin);
  }
  return pages;
}

// one registration at a time (a permission change and the options page both ask for one)
let registering = Promise.resolve();
function registerScripts() {
  registering = registering.then(doRegister, doRegister);
  return registering;
}

async function doRegister() {
  const pages = await enabledPages();
  const existing = await chrome.scripting.getRegisteredContentScripts({ ids: [SCRIPT_ID] });
  if (existing.length) await chrome.scripting.unregisterContentScripts({ ids: [SCRIPT_ID] });
  if (!pages.length) return;
  await chrome.scripting.registerContentScripts([
    { id: SCRIPT_ID, matches: pages, js: ["content.js"], runAt: "document_start", allFrames: true, persistAcrossSessions: true },
  ]);
}

// -- heartbeat --------------------------------------------------------------------------------

let soon = null;
function heartbeatSoon() {
  if (soon) return;
  soon = setTimeout(() => { soon = null; heartbeat(); }, 1000);
}

async function heartbeat() {
  const state = await load();
  syncOwnPixels();
  if (!state.deviceId) return false;
  const sites = await grantedSites(state.server);
  const body = await signed(state, HEARTBEAT, { sites, last_acted: state.lastActed || null });
  try {
    const r = await post(state.server, "/api/v1/devices/heartbeat", body);
    if (r.status === 204) {
      await remember({ lastHeartbeat: Math.floor(Date.now() / 1000), lastError: "" });
      return true;
    }
    await remember({ lastError: (r.data && r.data.error) || `the server answered ${r.status}` });
  } catch (e) {
    await remember({ lastError: `cannot reach ${state.server}: ${e.message}` });
  }
  return false;
}

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === "heartbeat") heartbeat();
  if (alarm.name === OWN_PIXELS) syncOwnPixels().then(() => checkMatches(blocked, 45000));
});

// a page finished loading: did one of our block rules stop a pixel in it?
chrome.tabs.onUpdated.addListener((_tabId, change) => {
  if (change.status === "complete") checkSoon(blocked);
});

chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "local" && changes.deviceId) resetOwnPixels(); // paired (again) or unpaired
});

function alarms() {
  chrome.alarms.create("heartbeat", { periodInMinutes: 60 });
  chrome.alarms.create(OWN_PIXELS, { periodInMinutes: 1 }); // a sender reads Sent right after sending
}

chrome.permissions.onRemoved.addListener(() => registerScripts().then(() => heartbeat()));
chrome.permissions.onAdded.addListener(() => registerScripts().then(() => heartbeat()).then(() => syncOwnPixels()));

chrome.runtime.onInstalled.addListener(() => {
  alarms();
  registerScripts();
  syncOwnPixels();
});
chrome.runtime.onStartup.addListener(() => {
  alarms();
  heartbeat();
});
