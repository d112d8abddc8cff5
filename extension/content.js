// On a webmail site the user turned on: find mailbeacon pixels of the paired server in the page
// (directly, after the '#' of Gmail's proxy address, or in a proxy's query such as Outlook's
// ?u=) and ask the extension whether it is the user's own email. Own: the extension has sent the
// self-view beacon, and the image is blanked so that the page does not load it again. Not own
// (a colleague's, someone else's): the image is left alone and counts as usual.
//
// Blanking it *before* it loads is not possible here: Chromium starts an image's request as soon
// as its src is set (a webmail inserting the message by script, the parser's preload scanner),
// before a MutationObserver sees the element; and blanking first then putting it back would
// load someone else's pixel twice (measured: two opens). The beacon is what makes the view self.
// (The block rules of own_pixels.js do stop the user's own recent pixels, loaded directly or
// through a proxy address that keeps the original after '#', as Gmail's does; not Outlook's ?u=.)
(() => {
  const BLANK = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
  let server = "";

  function tokenOf(src) {
    if (!server || !src || src.startsWith("data:")) return null;
    const candidates = [src];
    const hash = src.indexOf("#");
    if (hash >= 0) candidates.push(src.slice(hash + 1));
    try {
      for (const v of new URL(src, location.href).searchParams.values()) candidates.push(v);
    } catch (_) { /* not a URL */ }
    for (let c of candidates) {
      try { c = decodeURIComponent(c); } catch (_) { /* keep */ }
      if (c.startsWith(server + "/o/")) {
        const m = /^\/o\/([A-Za-z0-9_-]{16,400})(?:\.gif)?(?:[?#].*)?$/.exec(c.slice(server.length));
        if (m) return m[1];
      }
    }
    return null;
  }

  function handle(img) {
    if (img.dataset.mailbeacon) return;
    const src = img.getAttribute("src") || "";
    const token = tokenOf(src);
    if (!token) return;
    img.dataset.mailbeacon = "checking";
    chrome.runtime.sendMessage({ type: "pixel", token }).then(
      (answer) => {
        if (answer && answer.own) {
          img.dataset.mailbeaconSrc = src;
          img.removeAttribute("srcset");
          img.setAttribute("src", BLANK); // no further loads of it from this page
          img.dataset.mailbeacon = "self";
        } else {
          img.dataset.mailbeacon = "other";
        }
      },
      () => { img.dataset.mailbeacon = "other"; },
    );
  }

  function scan(root) {
    if (root.nodeType !== 1) return;
    if (root.tagName === "IMG") handle(root);
    for (const img of root.querySelectorAll ? root.querySelectorAll("img[src]") : []) handle(img);
  }

  const pending = [];
  const observer = new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") {
        if (r.target.tagName === "IMG" && !r.target.dataset.mailbeacon) handle(r.target);
        continue;
      }
      for (const n of r.addedNodes) server ? scan(n) : pending.push(n);
    }
  });
  observer.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["src"] });

  chrome.storage.local.get(["server", "deviceId"]).then((s) => {
    if (!s.server || !s.deviceId) { observer.disconnect(); return; }
    server = s.server;
    for (const n of pending.splice(0)) scan(n);
    scan(document.documentElement);
  });
})();
