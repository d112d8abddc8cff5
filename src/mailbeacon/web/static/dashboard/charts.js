// mailbeacon dashboard: the charts page draws its numbers (GET /app/charts/data) with uPlot.
// The same numbers are in the page's tables; without JavaScript only the tables show.
"use strict";

const COLOURS = {
  human: "#0b5cad", inferred: "#6639ba", self: "#bc4c00", machine: "#6e7781",
};

function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }

function widthOf(el) { return Math.max(260, Math.floor(el.getBoundingClientRect().width)); }

function line(label, stroke, extra) {
  return Object.assign({ label, stroke, width: 2, points: { show: true, size: 4 } }, extra || {});
}

function timeChart(el, days, series, values) {
  const xs = days.map((d) => Date.parse(d + "T00:00:00Z") / 1000);
  const opts = {
    width: widthOf(el),
    height: 240,
    tzDate: utc,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(4, max)] } },
    axes: [{ space: 60 }, { size: 44, values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? v : "")) }],
    series: [{ label: "Day", value: (u, ts) => (ts == null ? "—" : utc(ts).toISOString().slice(0, 10)) }, ...series],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
  return new uPlot(opts, [xs, ...values], el);
}

function barChart(el, long, short, counts) {
  const xs = long.map((_, i) => i);
  const narrow = widthOf(el) < 560;
  const labels = narrow ? short : long;
  const opts = {
    width: widthOf(el),
    height: 240,
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(4, max)] } },
    axes: [
      { splits: () => xs, values: (u, splits) => splits.map((i) => labels[i] || ""), size: 50, gap: 4, font: narrow ? "11px system-ui, sans-serif" : "12px system-ui, sans-serif" },
      { size: 44, values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? v : "")) },
    ],
    series: [
      { label: "First opened", value: (u, i) => (i == null ? "—" : long[i]) },
      { label: "Recipients", fill: COLOURS.human + "cc", stroke: COLOURS.human, paths: uPlot.paths.bars({ size: [0.7, 80] }), points: { show: false } },
    ],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
  return new uPlot(opts, [xs, counts], el);
}

function draw(data) {
  const a = data.activity;
  const charts = [];
  const opens = document.getElementById("chart-opens");
  const clicks = document.getElementById("chart-clicks");
  const first = document.getElementById("chart-first-open");
  if (opens) {
    charts.push([opens, timeChart(opens, a.days, [
      line("People", COLOURS.human),
      line("Inferred", COLOURS.inferred, { dash: [6, 4] }),
      line("Machines", COLOURS.machine),
      line("You", COLOURS.self),
    ], [a.opens_human, a.opens_inferred, a.opens_machine, a.opens_self])]);
  }
  if (clicks) {
    charts.push([clicks, timeChart(clicks, a.days, [
      line("People", COLOURS.human),
      line("You", COLOURS.self),
      line("Machines", COLOURS.machine),
    ], [a.clicks_human, a.clicks_self, a.clicks_machine])]);
  }
  if (first) {
    charts.push([first, barChart(first, data.first_open.buckets, data.first_open.short, data.first_open.counts)]);
  }
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const [el, chart] of charts) chart.setSize({ width: widthOf(el), height: 240 });
    });
  });
}

function start() {
  const opens = document.getElementById("chart-opens");
  if (!opens || !window.uPlot) return;
  fetch(opens.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then(draw)
    .catch(() => {
      const note = document.createElement("p");
      note.className = "chart-status";
      note.textContent = "The charts could not be loaded; the tables show the same numbers.";
      opens.appendChild(note);
    });
}

document.addEventListener("DOMContentLoaded", start);
