// mailbeacon dashboard: htmx sends the session's CSRF token with every change; live
// notifications from the event stream appear as toasts (GET /api/v1/events/stream, SSE).
"use strict";

document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});

function showToast(text, href) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const toast = document.createElement("div");
  toast.className = "toast";
  if (href) {
    const link = document.createElement("a");
    link.href = href;
    link.textContent = text;
    toast.appendChild(link);
  } else {
    toast.textContent = text;
  }
  box.appendChild(toast);
  setTimeout(() => toast.remove(), 8000);
}

function listen() {
  if (!document.querySelector('meta[name="csrf-token"]') || !window.EventSource) return;
  const stream = new EventSource("/api/v1/events/stream");
  const onEvent = (message) => {
    try {
      const body = JSON.parse(message.data);
      const data = body.data || {};
      showToast(data.text || body.type, data.message_id ? `/app/messages/${data.message_id}` : null);
      document.dispatchEvent(new CustomEvent("mailbeacon:event", { detail: body }));
    } catch (_) { /* a malformed message is ignored */ }
  };
  for (const kind of ["open", "click", "reply", "auto_reply", "bounce", "open_inferred", "correction"]) {
    stream.addEventListener(kind, onEvent);
  }
  stream.onerror = () => { if (stream.readyState === EventSource.CLOSED) setTimeout(listen, 15000); };
}

document.addEventListener("DOMContentLoaded", listen);
