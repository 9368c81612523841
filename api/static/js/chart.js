// Time-series charts with uPlot (vendored, MIT): hover values in the legend, drag to zoom (double-click to
// reset), local dates and times (the estate's time zone), units, alarm thresholds and shaded windows drawn.
import uPlot from "../vendor/uplot/uPlot.min.mjs";
import { TZ, fmt, h, t } from "./common.js";

(function css() {
  if (document.querySelector("link[data-uplot]")) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/static/vendor/uplot/uPlot.min.css", "data-uplot": "1" }));
})();

const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ);
const ACCENT = "#1f6feb";
const BAD = "#c62828";

function valueText(v, unit, digits = 2) {
  return v === null || v === undefined ? "—" : `${fmt.num(v, digits)}${unit ? " " + unit : ""}`;
}

// tick labels in the display time zone: "12-07" over days, "14:00" within a day, the date where it changes
function timeTicks(u, splits) {
  const spanDays = (u.scales.x.max - u.scales.x.min) / 86400;
  let lastDay = null;
  return splits.map((x) => {
    const ms = x * 1e3;
    const day = fmt.date(ms).slice(5);
    if (spanDays > 3) return day;
    const label = day !== lastDay ? `${fmt.clock(ms)}\n${day}` : fmt.clock(ms);
    lastDay = day;
    return label;
  });
}

// draws dashed horizontal lines (thresholds) and shaded time windows on top of the series
function overlays(thresholds, windows) {
  return (u) => {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    for (const w of windows) {
      const x0 = Math.max(left, u.valToPos(w.from / 1e3, "x", true));
      const x1 = Math.min(left + width, u.valToPos(w.to / 1e3, "x", true));
      if (x1 <= x0) continue;
      ctx.fillStyle = "rgba(198, 40, 40, 0.15)";
      ctx.fillRect(x0, top, x1 - x0, height);
    }
    ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.strokeStyle = BAD;
    ctx.fillStyle = BAD;
    ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    for (const th of thresholds) {
      const y = u.valToPos(th.value, "y", true);
      if (y < top || y > top + height) continue;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + width, y);
      ctx.stroke();
      ctx.fillText(th.label, left + 4 * devicePixelRatio, y - 4 * devicePixelRatio);
    }
    ctx.restore();
  };
}

/**
 * points: [{t: ms, mean, min, max}]; opts: {unit, title, from, to (ms), thresholds: [{value, label}],
 * windows: [{from, to, label}], yMin, yMax, height, digits, sync (a key: charts with it zoom together),
 * onZoom(fromMs, toMs)}. Returns a <div class="chart"> (data-points = how many points it draws).
 */
export function timeChart(points, opts = {}) {
  const box = h("div", { class: "chart", role: "img", "aria-label": opts.title || "chart", dataset: { points: points.length } });
  const thresholds = opts.thresholds || [];
  const windows = opts.windows || [];
  if (!points.length && !windows.length) {
    box.append(h("p", { class: "muted chart-empty" }, t("chart.no_data")));
    return box;
  }
  const xs = points.map((p) => p.t / 1e3);
  const hasBand = points.some((p) => p.min !== undefined && p.min !== null);
  const data = [xs, points.map((p) => p.mean ?? null)];
  const unit = opts.unit || "";
  const series = [
    { value: (u, v) => (v === null ? "—" : fmt.time(v * 1e3)) },
    { label: hasBand ? t("chart.mean") : opts.title || t("chart.mean"), stroke: ACCENT, width: 2, value: (u, v) => valueText(v, unit, opts.digits) },
  ];
  const bands = [];
  if (hasBand) {
    data.push(points.map((p) => p.min ?? null), points.map((p) => p.max ?? null));
    series.push(
      { label: t("chart.min"), stroke: "rgba(31,111,235,0.35)", width: 1, value: (u, v) => valueText(v, unit, opts.digits) },
      { label: t("chart.max"), stroke: "rgba(31,111,235,0.35)", width: 1, value: (u, v) => valueText(v, unit, opts.digits) },
    );
    bands.push({ series: [3, 2], fill: "rgba(31,111,235,0.10)" });
  }
  const yValues = [...data.slice(1).flat().filter((v) => v !== null), ...thresholds.map((x) => x.value)];
  let yLo = yValues.length ? Math.min(...yValues) : 0;
  let yHi = yValues.length ? Math.max(...yValues) : 1;
  if (opts.yMin !== undefined) yLo = Math.min(yLo, opts.yMin);
  if (opts.yMax !== undefined) yHi = Math.max(yHi, opts.yMax);
  const pad = yHi > yLo ? (yHi - yLo) * 0.08 : 1;
  const xFrom = (opts.from ?? Math.min(...(xs.length ? xs.map((x) => x * 1e3) : windows.map((w) => w.from)))) / 1e3;
  const xTo = (opts.to ?? Math.max(...(xs.length ? xs.map((x) => x * 1e3) : windows.map((w) => w.to)))) / 1e3;
  const axisFont = "13px system-ui, sans-serif";
  const make = (width) =>
    new uPlot(
      {
        width,
        height: opts.height || 220,
        tzDate,
        series,
        bands,
        cursor: { drag: { x: true, y: false }, sync: opts.sync ? { key: opts.sync } : undefined },
        scales: {
          x: { time: true, min: xFrom, max: xTo > xFrom ? xTo : xFrom + 60 },
          y: { range: () => [opts.yMin ?? yLo - pad, opts.yMax ?? yHi + pad] },
        },
        axes: [
          { font: axisFont, stroke: "#4a5566", grid: { stroke: "#e3e6eb" }, size: 48, values: timeTicks },
          { font: axisFont, stroke: "#4a5566", grid: { stroke: "#e3e6eb" }, size: 56, label: unit || undefined, labelFont: axisFont, labelSize: 20 },
        ],
        hooks: {
          draw: [overlays(thresholds, windows)],
          setScale: [
            (u, key) => {
              if (key === "x" && opts.onZoom) opts.onZoom(u.scales.x.min * 1e3, u.scales.x.max * 1e3);
            },
          ],
        },
      },
      data,
      box,
    );
  // sized to its container once it is on the page (and again when the page is resized)
  let plot = null;
  const ro = new ResizeObserver(() => {
    const width = Math.max(240, Math.floor(box.clientWidth));
    if (!plot) plot = make(width);
    else if (Math.abs(plot.width - width) > 4) plot.setSize({ width, height: plot.height });
  });
  ro.observe(box);
  return box;
}

// The useful horizon of a survival curve: until it has (almost) reached 0, past the failure window, never
// the long flat tail at zero. days, survival: arrays; windowEndDay: number | null.
export function usefulHorizon(days, survival, windowEndDay = null) {
  let last = days.length - 1;
  while (last > 0 && survival[last - 1] < 0.01) last -= 1;
  const end = Math.max(days[last] * 1.15, windowEndDay ? windowEndDay * 1.2 : 0, Math.min(14, days[days.length - 1]));
  return Math.min(end, days[days.length - 1]);
}
