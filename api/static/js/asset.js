// Asset page: details, latest readings, telemetry charts, events, forecast with its window, orders.
import {
  ApiError, api, badge, config, downloadCsv, errorBox, fmt, h, hasEndpoint, isoToLocalInput, localInputToIso, mount, needToken,
  section, t, table, tr,
} from "./common.js";
import { timeChart, usefulHorizon } from "./chart.js";

const assetId = config.asset;
const RANGES = { "6 h": 6, "24 h": 24, "7 d": 168, "30 d": 720 };
let rangeH = 24;
let custom = null; // {from, to} ms chosen with the date-range picker
let shown = null; // the range the charts show after zooming, for the CSV export
let loaded = []; // [{f, points}] of the charts drawn

function span() {
  if (custom) return custom;
  const to = Date.now();
  return { from: to - rangeH * 3600e3, to };
}

// alarm thresholds of this asset's kind (D's rules in force for this asset) by field, in the field's unit
async function thresholds(asset, fields) {
  if (!(await hasEndpoint("/alarm-rules"))) return {};
  try {
    const rules = await api(`/alarm-rules?kind=${asset.kind}&asset=${encodeURIComponent(assetId)}`);
    const out = {};
    for (const r of rules) {
      const p = r.params || {};
      const f = fields.find((x) => x.name === p.field);
      if (r.type !== "threshold" || r.enabled === false || !f || typeof p.value !== "number") continue;
      if (p.unit && p.unit !== f.unit) continue;
      (out[f.name] ||= []).push({ value: p.value, label: `${t("chart.threshold")} ${p.op} ${fmt.num(p.value)} ${f.unit_label}` });
    }
    return out;
  } catch {
    return {};
  }
}

async function charts(asset) {
  const fields = config.schemas[asset.kind] || [];
  const { from, to } = span();
  shown = { from, to };
  const [limits, results] = await Promise.all([
    thresholds(asset, fields),
    Promise.all(
      fields.map((f) =>
        api(`/assets/${encodeURIComponent(assetId)}/history?` + new URLSearchParams({ field: f.name, start: new Date(from).toISOString(), end: new Date(to).toISOString() }))
          .then((r) => ({ f, points: r.points.map((p) => ({ t: new Date(p.ts).getTime(), mean: p.mean, min: p.min, max: p.max })) }))
          .catch((err) => ({ f, err })),
      ),
    ),
  ]);
  loaded = results.filter((r) => !r.err);
  return h(
    "div",
    { class: "charts" },
    results.map(({ f, points, err }) =>
      h(
        "figure",
        { class: "card chart-card", dataset: { field: f.name } },
        h("figcaption", {}, f.label, f.unit_label ? h("span", { class: "muted" }, ` (${f.unit_label})`) : null),
        err
          ? errorBox(err)
          : timeChart(points, {
              unit: f.unit_label,
              title: f.label,
              from,
              to,
              thresholds: limits[f.name] || [],
              sync: "telemetry",
              onZoom: (a, b) => (shown = { from: a, to: b }),
            }),
      ),
    ),
  );
}

// CSV of what the charts show (after zooming): local time, then mean/min/max of each field
function exportShown() {
  const { from, to } = shown || span();
  const times = [...new Set(loaded.flatMap((r) => r.points.map((p) => p.t)))].filter((x) => x >= from && x <= to).sort((a, b) => a - b);
  const byField = loaded.map((r) => Object.fromEntries(r.points.map((p) => [p.t, p])));
  const header = [t("col.time"), ...loaded.flatMap((r) => ["mean", "min", "max"].map((s) => `${r.f.label} ${t(`chart.${s}`)}${r.f.unit_label ? ` (${r.f.unit_label})` : ""}`))];
  const rows = times.map((x) => [fmt.time(x), ...byField.flatMap((m) => (m[x] ? [m[x].mean, m[x].min, m[x].max] : ["", "", ""]))]);
  downloadCsv(`${assetId}_${fmt.date(from)}_${fmt.date(to)}.csv`, header, rows);
}

function rangeTools() {
  const { from, to } = span();
  const a = h("input", { type: "datetime-local", id: "range-from", value: isoToLocalInput(new Date(from)), "aria-label": t("chart.from") });
  const b = h("input", { type: "datetime-local", id: "range-to", value: isoToLocalInput(new Date(to)), "aria-label": t("chart.to") });
  const msg = h("span", { class: "late small", id: "range-error" });
  return h(
    "div",
    { class: "chart-tools" },
    Object.entries(RANGES).map(([label, hours]) =>
      h("button", { class: !custom && hours === rangeH ? "range active" : "range", onclick: () => ((custom = null), (rangeH = hours), render()) }, label),
    ),
    h("label", { class: "filter" }, t("chart.from"), a),
    h("label", { class: "filter" }, t("chart.to"), b),
    h("button", {
      id: "range-apply",
      onclick: () => {
        const x = Date.parse(localInputToIso(a.value));
        const y = Date.parse(localInputToIso(b.value));
        if (!(x < y)) return (msg.textContent = t("chart.bad_range"));
        custom = { from: x, to: y };
        render();
      },
    }, t("chart.apply")),
    h("button", { id: "export-range", onclick: exportShown }, t("chart.export_range")),
    h("span", { class: "muted small" }, t("chart.zoom_hint")),
    msg,
  );
}

function details(asset) {
  const unit = Object.fromEntries((config.schemas[asset.kind] || []).map((f) => [f.name, f.unit_label]));
  const label = Object.fromEntries((config.schemas[asset.kind] || []).map((f) => [f.name, f.label]));
  const latest = asset.latest;
  return h(
    "div",
    { class: "two" },
    section(
      t("asset.facts"),
      h(
        "dl",
        { class: "facts", id: "facts" },
        ...[
          ["kind", tr("kind", asset.kind)],
          ["place", `${asset.estate} / ${asset.building}`],
          ["floor", asset.floor ?? null],
          ["location", asset.location || null],
          ["model", asset.model],
          ["installed", asset.installed],
          ["criticality", t("common.of5", { n: asset.criticality })],
          ["state", badge(asset.state)],
          ["open_faults", asset.open_faults.map((c) => tr("code", c)).join("、") || t("common.none")],
        ].filter(([, v]) => v !== null && v !== undefined).flatMap(([k, v]) => [h("dt", {}, t(`asset.${k}`)), h("dd", {}, v)]),
      ),
    ),
    section(
      latest ? t("asset.latest_ago", { ago: fmt.ago(latest.ts) }) : t("asset.latest"),
      latest
        ? table(
            [t("col.field"), t("col.value")],
            Object.entries(latest.values).map(([k, v]) => h("tr", { dataset: { field: k } }, h("td", {}, label[k] || k), h("td", {}, `${fmt.num(v)} ${unit[k] || ""}`))),
          )
        : h("p", { class: "muted" }, t("asset.no_telemetry")),
    ),
  );
}

// "machine_room_temp_c__min" → "机房温度 (min)": a model's feature named after the contract's field
function driverLabel(kind, name) {
  const [field, stat] = String(name).split("__");
  const f = (config.schemas[kind] || []).find((x) => x.name === field);
  const base = f ? f.label : t(`driver.${field}`) !== `driver.${field}` ? t(`driver.${field}`) : tr(["event.type", "code"], field);
  return stat ? `${base}（${t(`chart.${stat}`) === `chart.${stat}` ? stat : t(`chart.${stat}`)}）` : base;
}

async function forecastSection(asset) {
  if (!(await hasEndpoint("/assets/{asset_id}/forecast"))) {
    return section(t("asset.forecast"), h("p", { class: "muted" }, t("ov.forecasts_unavailable")));
  }
  try {
    // ask for a forecast only when the kind has a model that scores live telemetry (no 409 in the console)
    const models = (await hasEndpoint("/models")) ? await api("/models") : null;
    const model = models && models.find((m) => m.kind === asset.kind);
    if (models && !(model && model.telemetry)) {
      return section(
        t("asset.forecast"),
        h("p", { class: "muted", id: "no-model" }, t("asset.no_model", { kind: tr("kind", asset.kind), code: asset.kind })),
      );
    }
    const f = await api(`/assets/${encodeURIComponent(assetId)}/forecast`);
    const t0 = new Date(f.now).getTime();
    const kpis = h(
      "div",
      { class: "kpis", id: "forecast" },
      [
        ["p_fail_7d", "7"],
        ["p_fail_30d", "30"],
        ["p_fail_90d", "90"],
      ].map(([k, d]) =>
        h("div", { class: "kpi", dataset: { horizon: d } }, h("div", { class: "kpi-value" }, fmt.pct(f[k])), h("div", { class: "kpi-label" }, t("asset.p_fail", { d }))),
      ),
      h("div", { class: "kpi" }, h("div", { class: "kpi-value" }, fmt.num(f.risk, 2)), h("div", { class: "kpi-label" }, t("asset.risk_kpi"))),
    );
    const windows = f.window_start && f.window_end
      ? [{ from: new Date(f.window_start).getTime(), to: new Date(f.window_end).getTime(), label: t("asset.window_label") }]
      : [];
    const days = f.curve_days || [];
    const windowEnd = f.window_end ? (new Date(f.window_end).getTime() - t0) / 86400e3 : null;
    const horizon = days.length ? usefulHorizon(days, f.survival, windowEnd) : 0;
    const curve = days.map((d, i) => ({ t: t0 + d * 86400e3, mean: f.survival[i] })).filter((p) => p.t <= t0 + horizon * 86400e3);
    return section(
      t("asset.forecast"),
      kpis,
      windows.length
        ? h("p", { id: "window" }, t("asset.window", { a: fmt.time(f.window_start), b: fmt.time(f.window_end) }))
        : h("p", { class: "muted" }, t("asset.no_window")),
      h(
        "figure",
        { class: "chart-card", id: "survival" },
        h("figcaption", {}, t("asset.survival")),
        timeChart(curve, { yMin: 0, yMax: 1, windows, title: t("chart.survival"), height: 240, digits: 3, from: t0, to: t0 + horizon * 86400e3 }),
      ),
      f.drivers && f.drivers.length
        ? h("p", { class: "muted small" }, t("asset.drivers"), f.drivers.map((d) => `${driverLabel(asset.kind, d.name)} (${d.contribution > 0 ? "+" : ""}${fmt.num(d.contribution)})`).join("、"))
        : null,
    );
  } catch (err) {
    if (err.status === 404 || err.status === 409) return section(t("asset.forecast"), h("p", { class: "muted" }, err.message));
    return section(t("asset.forecast"), errorBox(err));
  }
}

async function eventsSection() {
  const events = await api(`/events?asset=${encodeURIComponent(assetId)}&limit=50`);
  return section(
    t("asset.events"),
    events.length
      ? table(
          ["time", "event_type", "code", "detail"].map((k) => t(`col.${k}`)),
          events.map((e) => h("tr", {}, h("td", {}, fmt.time(e.ts)), h("td", {}, badge(e.type, "event")), h("td", {}, tr("code", e.code)), h("td", {}, e.detail || ""))),
        )
      : h("p", { class: "muted" }, t("asset.no_events")),
  );
}

async function ordersSection() {
  if (!(await hasEndpoint("/orders"))) return null;
  try {
    const orders = await api(`/orders?asset_id=${encodeURIComponent(assetId)}&limit=50`);
    return section(
      t("asset.orders"),
      orders.length
        ? table(
            ["order", "type", "priority", "state", "opened"].map((k) => t(`col.${k}`)),
            orders.map((o) => h("tr", { dataset: { order: o.id } }, h("td", {}, h("a", { href: `/orders/${o.id}` }, `#${o.id}`), ` ${o.title}`), h("td", {}, tr("order.type", o.type)), h("td", {}, badge(o.priority, "prio")), h("td", {}, badge(o.state)), h("td", {}, fmt.time(o.opened_at)))),
          )
        : h("p", { class: "muted" }, t("asset.no_orders")),
    );
  } catch (err) {
    return err.status === 403 ? null : section(t("asset.orders"), errorBox(err));
  }
}

async function render() {
  if (needToken(t("page.asset", { asset: assetId }), render)) return;
  try {
    const asset = await api(`/assets/${encodeURIComponent(assetId)}`);
    const [chartsEl, forecast, events, orders] = await Promise.all([charts(asset), forecastSection(asset), eventsSection(), ordersSection()]);
    const ranges = rangeTools();
    mount(
      h("p", {}, h("a", { href: "/" }, t("common.back_overview"))),
      h("h1", {}, `${assetId} `, badge(asset.state)),
      details(asset),
      forecast,
      section(t("asset.telemetry"), ranges, chartsEl),
      events,
      orders,
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return needToken(t("page.asset", { asset: assetId }), render, err);
    mount(h("p", {}, h("a", { href: "/" }, t("common.back_overview"))), h("h1", {}, assetId), errorBox(err));
  }
  document.body.dataset.ready = "1";
}

render();
