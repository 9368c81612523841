// Asset page: details, latest readings, telemetry charts, events, forecast with its window, orders.
import { ApiError, api, badge, config, errorBox, fmt, h, hasEndpoint, mount, needToken, section, table } from "./common.js";
import { lineChart } from "./chart.js";

const assetId = config.asset;
const RANGES = { "6 h": 6, "24 h": 24, "7 d": 168 };
let rangeH = 24;

async function charts(asset) {
  const fields = config.schemas[asset.kind] || [];
  const end = new Date();
  const start = new Date(end.getTime() - rangeH * 3600e3);
  const results = await Promise.all(
    fields.map((f) =>
      api(`/assets/${encodeURIComponent(assetId)}/history?` + new URLSearchParams({ field: f.name, start: start.toISOString(), end: end.toISOString() }))
        .then((r) => ({ f, r }))
        .catch((err) => ({ f, err })),
    ),
  );
  return h(
    "div",
    { class: "charts" },
    results.map(({ f, r, err }) =>
      h(
        "figure",
        { class: "card chart-card", dataset: { field: f.name } },
        h("figcaption", {}, f.description || fmt.label(f.name), h("span", { class: "muted" }, ` (${f.unit})`)),
        err
          ? errorBox(err)
          : lineChart(
              r.points.map((p) => ({ t: new Date(p.ts).getTime(), mean: p.mean, min: p.min, max: p.max })),
              { unit: f.unit, title: f.name, from: start.getTime(), to: end.getTime() },
            ),
      ),
    ),
  );
}

function details(asset) {
  const unit = Object.fromEntries((config.schemas[asset.kind] || []).map((f) => [f.name, f.unit]));
  const latest = asset.latest;
  return h(
    "div",
    { class: "two" },
    section(
      "Asset",
      h(
        "dl",
        { class: "facts", id: "facts" },
        ...[
          ["kind", fmt.label(asset.kind)],
          ["estate / building", `${asset.estate} / ${asset.building}`],
          ["model", asset.model],
          ["installed", asset.installed],
          ["criticality", `${asset.criticality} of 5`],
          ["state", badge(asset.state)],
          ["open faults", asset.open_faults.map(fmt.label).join(", ") || "none"],
        ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
      ),
    ),
    section(
      latest ? `Latest reading (${fmt.ago(latest.ts)})` : "Latest reading",
      latest
        ? table(
            ["field", "value"],
            Object.entries(latest.values).map(([k, v]) => h("tr", { dataset: { field: k } }, h("td", {}, fmt.label(k)), h("td", {}, `${fmt.num(v)} ${unit[k] || ""}`))),
          )
        : h("p", { class: "muted" }, "No telemetry received yet."),
    ),
  );
}

async function forecastSection(asset) {
  if (!(await hasEndpoint("/assets/{asset_id}/forecast"))) {
    return section("Forecast", h("p", { class: "muted" }, "Forecasts are not available on this server yet."));
  }
  try {
    // ask for a forecast only when the kind has a model that scores live telemetry (no 409 in the console)
    const models = (await hasEndpoint("/models")) ? await api("/models") : null;
    const model = models && models.find((m) => m.kind === asset.kind);
    if (models && !(model && model.telemetry)) {
      return section(
        "Forecast",
        h("p", { class: "muted", id: "no-model" }, `No trained model for ${fmt.label(asset.kind)} yet: the predictor trains one from telemetry (facility train-telemetry --kind ${asset.kind}).`),
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
        h("div", { class: "kpi", dataset: { horizon: d } }, h("div", { class: "kpi-value" }, fmt.pct(f[k])), h("div", { class: "kpi-label" }, `P(fail ≤ ${d} d)`)),
      ),
      h("div", { class: "kpi" }, h("div", { class: "kpi-value" }, fmt.num(f.risk, 2)), h("div", { class: "kpi-label" }, "risk (P30 × criticality)")),
    );
    const windows = f.window_start && f.window_end
      ? [{ from: new Date(f.window_start).getTime(), to: new Date(f.window_end).getTime(), label: "predicted failure window (20–80%)" }]
      : [];
    const curve = (f.curve_days || []).map((d, i) => ({ t: t0 + d * 86400e3, mean: f.survival[i] }));
    return section(
      "Forecast",
      kpis,
      windows.length
        ? h("p", { id: "window" }, `Predicted failure window: ${fmt.time(f.window_start)} – ${fmt.time(f.window_end)}`)
        : h("p", { class: "muted" }, "No failure window within the forecast horizon."),
      h(
        "figure",
        { class: "chart-card", id: "survival" },
        h("figcaption", {}, "Probability of still working", h("span", { class: "muted" }, ` (model ${f.model_version})`)),
        lineChart(curve, { yMin: 0, yMax: 1, windows, title: "survival curve", width: 1100, height: 220 }),
      ),
      f.drivers && f.drivers.length
        ? h("p", { class: "muted small" }, "Main drivers: ", f.drivers.map((d) => `${fmt.label(d.name)} (${d.contribution > 0 ? "+" : ""}${fmt.num(d.contribution)})`).join(", "))
        : null,
    );
  } catch (err) {
    if (err.status === 404 || err.status === 409) return section("Forecast", h("p", { class: "muted" }, err.message));
    return section("Forecast", errorBox(err));
  }
}

async function eventsSection() {
  const events = await api(`/events?asset=${encodeURIComponent(assetId)}&limit=50`);
  return section(
    "Events (30 days)",
    events.length
      ? table(
          ["time", "type", "code", "detail"],
          events.map((e) => h("tr", {}, h("td", {}, fmt.time(e.ts)), h("td", {}, badge(e.type, "event")), h("td", {}, fmt.label(e.code)), h("td", {}, e.detail || ""))),
        )
      : h("p", { class: "muted" }, "No events."),
  );
}

async function ordersSection() {
  if (!(await hasEndpoint("/orders"))) return null;
  try {
    const orders = await api(`/orders?asset_id=${encodeURIComponent(assetId)}&limit=20`);
    return section(
      "Work orders",
      orders.length
        ? table(
            ["order", "type", "priority", "state", "opened"],
            orders.map((o) => h("tr", {}, h("td", {}, `#${o.id} ${o.title}`), h("td", {}, fmt.label(o.type)), h("td", {}, badge(o.priority, "prio")), h("td", {}, badge(o.state)), h("td", {}, fmt.time(o.opened_at)))),
          )
        : h("p", { class: "muted" }, "No work orders for this asset."),
    );
  } catch (err) {
    return err.status === 403 ? null : section("Work orders", errorBox(err));
  }
}

async function render() {
  if (needToken(`Asset ${assetId}`, render)) return;
  try {
    const asset = await api(`/assets/${encodeURIComponent(assetId)}`);
    const [chartsEl, forecast, events, orders] = await Promise.all([charts(asset), forecastSection(asset), eventsSection(), ordersSection()]);
    const ranges = h(
      "div",
      { class: "filters" },
      Object.entries(RANGES).map(([label, hours]) =>
        h("button", { class: hours === rangeH ? "range active" : "range", onclick: () => ((rangeH = hours), render()) }, label),
      ),
    );
    mount(
      h("p", {}, h("a", { href: "/" }, "← Overview")),
      h("h1", {}, `${assetId} `, badge(asset.state)),
      details(asset),
      forecast,
      section("Telemetry", ranges, chartsEl),
      events,
      orders,
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return needToken(`Asset ${assetId}`, render, err);
    mount(h("p", {}, h("a", { href: "/" }, "← Overview")), h("h1", {}, assetId), errorBox(err));
  }
  document.body.dataset.ready = "1";
}

render();
