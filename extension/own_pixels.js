// Your own pixels, stopped on any site: the server lists the pixel tokens of the mail you sent in
// the last 30 days (GET /api/v1/devices/me/own-pixels, with the device token), and each becomes a
// declarativeNetRequest block rule. A block rule needs no access to the page that loads the
// pixel (webRequest does: Chrome shows an extension a request only if it may read the page too),
// so a page of a site you did not turn on, loading your own pixel directly, loads nothing and
// the recipient's opens stay 0. A colleague's pixel is not in the list: it loads and counts.
//
// Which rules matched (declarativeNetRequestFeedback: rule id, tab, time; never the address) is
// asked on an alarm and after a tab finishes loading, within Chrome's limit of 20 calls in 10
// minutes; each match becomes the signed self-view beacon, so the view is recorded as yours.

import { OWN_PIXEL_PERMISSIONS, load } from "./lib.js";

async function allowed() {
  return Boolean(chrome.declarativeNetRequest) && chrome.permissions.contains({ permissions: OWN_PIXEL_PERMISSIONS });
}

// Chrome 116-120 allows 5000 dynamic rules in all (121 and later: 30000 block rules); the server
// sends at most 4000 in one answer; newest mail first when there are more.
export const MAX_RULES = 4500;
const RESOURCE_TYPES = ["image", "media", "object", "other", "ping", "sub_frame", "xmlhttprequest"];
const CALLS_PER_WINDOW = 18; // Chrome: 20 getMatchedRules calls per 10 minutes
const WINDOW_MS = 10 * 60 * 1000;
const STATE_KEYS = ["ownRules", "ownNextId", "ownCursor", "ownLastMatch"];

function rule(id, token) {
  return {
    id,
    priority: 1,
    action: { type: "block" },
    condition: { urlFilter: `/o/${token}`, isUrlFilterCaseSensitive: true, resourceTypes: RESOURCE_TYPES },
  };
}

async function fetchOwn(state, since) {
  const r = await fetch(`${state.server}/api/v1/devices/me/own-pixels?since=${encodeURIComponent(since)}`, {
    headers: { authorization: `Bearer mbd_${state.deviceId}.${state.secret}` },
    credentials: "omit",
  });
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  return { status: r.status, data };
}

// Make the dynamic rules exactly `wanted` (token -> rule id) in one updateDynamicRules call.
async function install(wanted) {
  if (!(await allowed())) return; // not granted (yet): nothing is blocked, webRequest and the cookie remain
  const existing = await chrome.declarativeNetRequest.getDynamicRules();
  const want = new Map(Object.entries(wanted).map(([token, [id]]) => [id, token]));
  const keep = new Set();
  const removeRuleIds = [];
  for (const r of existing) {
    const token = want.get(r.id);
    if (token && r.condition.urlFilter === `/o/${token}`) keep.add(r.id);
    else removeRuleIds.push(r.id);
  }
  const addRules = [...want].filter(([id]) => !keep.has(id)).map(([id, token]) => rule(id, token));
  if (removeRuleIds.length || addRules.length) {
    await chrome.declarativeNetRequest.updateDynamicRules({ removeRuleIds, addRules });
  }
}

let chain = Promise.resolve();
function serial(job) {
  chain = chain.then(job, job);
  return chain;
}

// Fetch the new ones, drop the expired, install. Unpaired (or refused): no rules at all.
export function syncOwnPixels() {
  return serial(async () => {
    const state = await load();
    const s = await chrome.storage.local.get(STATE_KEYS);
    if (!state.deviceId) {
      await chrome.storage.local.remove(STATE_KEYS);
      await install({});
      return false;
    }
    let r;
    try {
      r = await fetchOwn(state, s.ownCursor || "0");
    } catch (e) {
      console.debug("mailbeacon: own pixels", e.message);
      return false; // the server is out of reach: the rules stay as they are
    }
    if (r.status === 401) { // unpaired on the server
      await chrome.storage.local.set({ lastError: (r.data && r.data.error) || "this device is not paired (any more): pair it again" });
      await install({});
      await chrome.storage.local.remove(STATE_KEYS);
      return false;
    }
    if (r.status !== 200 || !r.data || !Array.isArray(r.data.pixels)) return false;
    const rules = { ...(s.ownRules || {}) }; // token -> [rule id, sent at (s)]
    let nextId = s.ownNextId || 1;
    for (const p of r.data.pixels) {
      if (typeof p.token !== "string" || !/^[A-Za-z0-9_-]{16,400}$/.test(p.token) || rules[p.token]) continue;
      rules[p.token] = [nextId++, Math.floor(Date.parse(p.sent_at) / 1000) || 0];
    }
    const oldest = Date.now() / 1000 - (r.data.keep_days || 30) * 86400;
    const kept = Object.entries(rules).filter(([, [, at]]) => at >= oldest)
      .sort((a, b) => b[1][1] - a[1][1]).slice(0, MAX_RULES);
    const wanted = Object.fromEntries(kept);
    await install(wanted);
    await chrome.storage.local.set({ ownRules: wanted, ownNextId: nextId, ownCursor: String(r.data.cursor || s.ownCursor || "0") });
    return true;
  });
}

// Paired again (another account, server) or unpaired: start from nothing.
export function resetOwnPixels() {
  serial(() => chrome.storage.local.remove(STATE_KEYS));
  return syncOwnPixels();
}

// -- which rules matched: each one a self-view beacon ------------------------------------------

async function quotaLeft() {
  const { matchCalls = [] } = await chrome.storage.session.get("matchCalls");
  const recent = matchCalls.filter((t) => Date.now() - t < WINDOW_MS);
  return { recent, left: CALLS_PER_WINDOW - recent.length };
}

// `beaconOwn(token, at)` sends the beacon (once per view); `idleMs`: skip when asked that recently.
export async function checkMatches(beaconOwn, idleMs = 0) {
  const { recent, left } = await quotaLeft();
  if (left <= 0 || (idleMs && recent.length && Date.now() - recent[recent.length - 1] < idleMs)) return 0;
  const s = await chrome.storage.local.get(["ownRules", "ownLastMatch"]);
  if (!s.ownRules || !(await allowed())) return 0;
  await chrome.storage.session.set({ matchCalls: [...recent, Date.now()] });
  const since = s.ownLastMatch || 0;
  let found;
  try {
    found = await chrome.declarativeNetRequest.getMatchedRules({ minTimeStamp: since });
  } catch (e) {
    console.debug("mailbeacon: matched rules", e.message); // over Chrome's limit: the next alarm
    return 0;
  }
  const byId = new Map(Object.entries(s.ownRules).map(([token, [id]]) => [id, token]));
  let last = since;
  let sent = 0;
  for (const m of found.rulesMatchedInfo) {
    if (m.rule.rulesetId !== "_dynamic" || m.timeStamp <= since) continue;
    last = Math.max(last, m.timeStamp);
    const token = byId.get(m.rule.ruleId);
    if (token && (await beaconOwn(token, m.timeStamp))) sent++;
  }
  if (last > since) await chrome.storage.local.set({ ownLastMatch: last });
  return sent;
}

let soon = null;
export function checkSoon(beaconOwn, delayMs = 1500) {
  if (soon) return;
  soon = setTimeout(() => { soon = null; checkMatches(beaconOwn); }, delayMs);
}
