// Shared by the service worker and the options page: the stored pairing, the signatures, the
// server's three extension endpoints, and where a mailbeacon pixel hides in an image address.

export const WEBMAIL = [
  // what turning a site on asks access to: the webmail itself (the content script runs there)
  // and, for Gmail, Google's image proxy (so its loads of our pixels are visible too)
  { id: "gmail", label: "Gmail (mail.google.com)", pages: ["https://mail.google.com/*"],
    extra: ["https://*.googleusercontent.com/*"] },
  { id: "outlook", label: "Outlook on the web (outlook.office.com, outlook.live.com)",
    pages: ["https://outlook.office.com/*", "https://outlook.office365.com/*", "https://outlook.live.com/*"],
    extra: [] },
  { id: "yahoo", label: "Yahoo Mail (mail.yahoo.com)", pages: ["https://mail.yahoo.com/*"], extra: [] },
];

// opt-in: every site, so that a page anywhere loading one of your pixels directly is seen (Chrome
// shows an extension a request only if it may read the page that made it, too)
export const ANYWHERE = { id: "anywhere", label: "Every site (your pixels loaded directly by any page)",
  origins: ["https://*/*", "http://*/*"] };

export const HEARTBEAT = "heartbeat";

// optional permissions, asked at pairing together with the server's access (options.js): block
// rules for your own pixels on any page, and which of them matched (own_pixels.js)
export const OWN_PIXEL_PERMISSIONS = ["declarativeNetRequest", "declarativeNetRequestFeedback"];

export async function load() {
  const s = await chrome.storage.local.get(null);
  return {
    server: s.server || "",
    deviceId: s.deviceId || "",
    secret: s.secret || "",
    user: s.user || "",
    custom: s.custom || [], // origin patterns of other webmail sites the user turned on
    lastActed: s.lastActed || 0,
    lastHeartbeat: s.lastHeartbeat || 0,
    lastError: s.lastError || "",
  };
}

export function normaliseServer(text) {
  const url = new URL(text.trim());
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("the server URL must start with https://");
  return url.origin; // the pixels are at <origin>/o/…
}

export function originPattern(text) {
  const url = new URL(text.includes("://") ? text.trim() : "https://" + text.trim());
  return url.origin + "/*";
}

function b64urlDecode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function b64urlEncode(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// sig = base64url(HMAC-SHA256(base64url-decode(secret), "device|token|ts")), as docs/api.md says
export async function sign(secret, device, token, ts) {
  const key = await crypto.subtle.importKey("raw", b64urlDecode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${device}|${token}|${ts}`));
  return b64urlEncode(mac);
}

export async function signed(state, what, extra) {
  const ts = Math.floor(Date.now() / 1000);
  return { device: state.deviceId, ts, sig: await sign(state.secret, state.deviceId, what, ts), ...extra };
}

export async function post(server, path, body) {
  const r = await fetch(server + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    credentials: "include",
  });
  let data = null;
  if (r.status !== 204) {
    try { data = await r.json(); } catch (_) { data = null; }
  }
  return { status: r.status, data };
}

// The mailbeacon pixel token in an image address: the address itself (a direct load), the
// original after '#' (Gmail's proxy: …/proxy/…#<original>), or a query parameter holding the
// original (Outlook's proxy: …/actions/ei?u=<original>). Null when it is not one of ours.
export function pixelToken(server, src) {
  if (!server || !src) return null;
  const candidates = [src];
  const hash = src.indexOf("#");
  if (hash >= 0) candidates.push(src.slice(hash + 1));
  try {
    const u = new URL(src);
    for (const v of u.searchParams.values()) candidates.push(v);
  } catch (_) { /* not a URL */ }
  for (let c of candidates) {
    try { c = decodeURIComponent(c); } catch (_) { /* keep as is */ }
    if (c.startsWith(server + "/o/")) {
      const m = /^\/o\/([A-Za-z0-9_-]{16,400})(?:\.gif)?(?:[?#].*)?$/.exec(c.slice(server.length));
      if (m) return m[1];
    }
  }
  return null;
}

// The host names of the webmail sites this browser lets the extension read (not the server).
export async function grantedSites(server) {
  const all = await chrome.permissions.getAll();
  const serverHost = server ? new URL(server).host : "";
  const hosts = new Set();
  for (const o of all.origins || []) {
    const m = /^[a-z*]+:\/\/([^/]+)\//.exec(o);
    if (!m) continue;
    const host = m[1].replace(/^\*\./, "");
    if (host !== serverHost) hosts.add(host); // "*": every site
  }
  return [...hosts].sort();
}
