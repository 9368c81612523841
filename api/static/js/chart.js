// A small SVG time-series chart: mean line, min–max band, time axis, optional shaded windows.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function niceTicks(lo, hi, n = 4) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toFixed(10));
  return out;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  if (spanMs > 3 * 86400e3) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/**
 * points: [{t: ms, mean, min, max}] (nulls allowed); opts: {unit, width, height, windows: [{from, to, label}]}
 * Returns an <svg> element (scales with its container).
 */
export function lineChart(points, opts = {}) {
  const W = opts.width || 560;
  const H = opts.height || 180;
  const m = { l: 48, r: 10, t: 10, b: 24 };
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
  root.append(svg("title"));
  root.firstChild.textContent = opts.title || "chart";
  const good = points.filter((p) => p.mean !== null && p.mean !== undefined);
  const windows = opts.windows || [];
  if (!good.length && !windows.length) {
    const t = svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "chart-empty" });
    t.textContent = "no data in this range";
    root.append(t);
    return root;
  }
  const ts = [...good.map((p) => p.t), ...windows.flatMap((w) => [w.from, w.to])];
  let t0 = opts.from ?? Math.min(...ts);
  let t1 = opts.to ?? Math.max(...ts);
  if (t1 === t0) t1 = t0 + 60e3;
  const vals = good.flatMap((p) => [p.min ?? p.mean, p.max ?? p.mean]);
  let v0 = vals.length ? Math.min(...vals) : 0;
  let v1 = vals.length ? Math.max(...vals) : 1;
  if (opts.yMin !== undefined) v0 = Math.min(v0, opts.yMin);
  if (opts.yMax !== undefined) v1 = Math.max(v1, opts.yMax);
  if (v1 === v0) {
    v0 -= 1;
    v1 += 1;
  }
  const pad = (v1 - v0) * 0.08;
  v0 -= pad;
  v1 += pad;
  const x = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
  const y = (v) => H - m.b - ((v - v0) / (v1 - v0)) * (H - m.t - m.b);

  for (const w of windows) {
    const rect = svg("rect", {
      x: x(w.from),
      y: m.t,
      width: Math.max(2, x(w.to) - x(w.from)),
      height: H - m.t - m.b,
      class: "chart-window",
    });
    const tt = svg("title");
    tt.textContent = w.label || "";
    rect.append(tt);
    root.append(rect);
  }
  for (const v of niceTicks(v0, v1)) {
    root.append(svg("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: "chart-grid" }));
    const label = svg("text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end", class: "chart-axis" });
    label.textContent = String(v);
    root.append(label);
  }
  for (const t of niceTicks(t0, t1, 4)) {
    const label = svg("text", { x: x(t), y: H - 6, "text-anchor": "middle", class: "chart-axis" });
    label.textContent = timeLabel(t, t1 - t0);
    root.append(label);
  }
  if (good.length && good.some((p) => p.min !== undefined && p.min !== null)) {
    const upper = good.map((p) => `${x(p.t)},${y(p.max ?? p.mean)}`);
    const lower = good.map((p) => `${x(p.t)},${y(p.min ?? p.mean)}`).reverse();
    root.append(svg("polygon", { points: [...upper, ...lower].join(" "), class: "chart-band" }));
  }
  if (good.length) {
    root.append(svg("polyline", { points: good.map((p) => `${x(p.t)},${y(p.mean)}`).join(" "), class: "chart-line" }));
    const last = good[good.length - 1];
    root.append(svg("circle", { cx: x(last.t), cy: y(last.mean), r: 3, class: "chart-dot" }));
  }
  if (opts.unit) {
    const u = svg("text", { x: m.l + 4, y: m.t + 10, class: "chart-unit" });
    u.textContent = opts.unit;
    root.append(u);
  }
  return root;
}
