// Estate overview: assets by state, intactness, open faults, risk ranking, open orders and SLA breaches.
import { ApiError, api, badge, errorBox, fmt, h, hasEndpoint, mount, needToken, section, table } from "./common.js";

const STATES = ["in_service", "faulted", "offline", "no_data"];
const filters = { estate: "", kind: "", state: "" };

function kpi(label, value, cls = "") {
  return h("div", { class: `kpi ${cls}` }, h("div", { class: "kpi-value" }, value), h("div", { class: "kpi-label" }, label));
}

function counts(assets) {
  const c = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const a of assets) c[a.state] = (c[a.state] || 0) + 1;
  return c;
}

function summary(assets) {
  const c = counts(assets);
  const intact = assets.length ? c.in_service / assets.length : null;
  return h(
    "div",
    { class: "kpis", id: "kpis" },
    kpi("assets", assets.length),
    kpi("in service", c.in_service, "ok"),
    kpi("faulted", c.faulted, c.faulted ? "bad" : ""),
    kpi("offline", c.offline, c.offline ? "warn" : ""),
    kpi("intactness", intact === null ? "—" : fmt.pct(intact), intact !== null && intact < 0.98 ? "warn" : "ok"),
  );
}

function estateCards(estates, assets) {
  return h(
    "div",
    { class: "grid" },
    estates.map((e) => {
      const c = counts(assets.filter((a) => a.estate === e.id));
      return h(
        "article",
        { class: "card estate", dataset: { estate: e.id } },
        h("h3", {}, e.name),
        h("p", { class: "muted" }, `${e.company_name} · ${fmt.label(e.group)} · ${e.assets} assets`),
        h("p", {}, STATES.filter((s) => c[s]).map((s) => h("span", { class: "pill" }, badge(s), ` ${c[s]}`))),
      );
    }),
  );
}

function select(name, options, onchange) {
  return h(
    "label",
    { class: "filter" },
    fmt.label(name),
    h(
      "select",
      { name, onchange: (e) => onchange(e.target.value) },
      h("option", { value: "" }, "all"),
      options.map((o) => h("option", { value: o.value, selected: filters[name] === o.value }, o.label)),
    ),
  );
}

function assetTable(assets) {
  const rows = assets.map((a) =>
    h(
      "tr",
      { dataset: { asset: a.id } },
      h("td", {}, h("a", { href: `/assets/${encodeURIComponent(a.id)}` }, a.id)),
      h("td", {}, a.estate),
      h("td", {}, a.building),
      h("td", {}, fmt.label(a.kind)),
      h("td", {}, badge(a.state)),
      h("td", {}, a.open_faults.map(fmt.label).join(", ") || "—"),
      h("td", {}, a.latest ? fmt.ago(a.latest.ts) : "—"),
    ),
  );
  return table(["asset", "estate", "building", "kind", "state", "open faults", "last reading"], rows);
}

function windowText(f) {
  if (!f.window_start || !f.window_end) return "—";
  const days = (t) => (new Date(t).getTime() - new Date(f.now).getTime()) / 86400e3;
  return `in ${fmt.num(days(f.window_start), 0)}–${fmt.num(days(f.window_end), 0)} days`;
}

async function riskSection() {
  if (!(await hasEndpoint("/forecasts/ranking"))) {
    return section("Risk ranking", h("p", { class: "muted" }, "Forecasts are not available on this server yet."));
  }
  try {
    const q = new URLSearchParams({ limit: "10" });
    if (filters.kind) q.set("kind", filters.kind);
    const rows = await api(`/forecasts/ranking?${q}`);
    if (!rows.length) return section("Risk ranking", h("p", { class: "muted" }, "No forecasts yet."));
    return section(
      "Risk ranking",
      table(
        ["asset", "kind", "P(fail ≤ 30 d)", "risk", "predicted window"],
        rows.map((f) =>
          h(
            "tr",
            { dataset: { risk: f.asset } },
            h("td", {}, h("a", { href: `/assets/${encodeURIComponent(f.asset)}` }, f.asset)),
            h("td", {}, fmt.label(f.kind)),
            h("td", {}, fmt.pct(f.p_fail_30d)),
            h("td", { title: "P(fail ≤ 30 d) × criticality (1–5)" }, fmt.num(f.risk, 2)),
            h("td", {}, windowText(f)),
          ),
        ),
      ),
      h("p", { class: "muted small" }, "Risk = P(failure within 30 days) × criticality."),
    );
  } catch (err) {
    // 409: no model trained for these kinds yet — say so, it is not a page error
    return section("Risk ranking", err.status === 409 ? h("p", { class: "muted" }, err.message) : errorBox(err));
  }
}

async function ordersSection() {
  if (!(await hasEndpoint("/orders"))) {
    return section("Work orders", h("p", { class: "muted" }, "Work orders are not available on this server yet."));
  }
  try {
    const orders = await api("/orders?limit=500");
    const open = orders.filter((o) => !["resolved", "verified", "closed", "cancelled"].includes(o.state));
    const breached = open.filter((o) => o.sla.response_breached || o.sla.resolution_breached);
    const byState = {};
    for (const o of open) byState[o.state] = (byState[o.state] || 0) + 1;
    return section(
      "Work orders",
      h(
        "div",
        { class: "kpis", id: "order-kpis" },
        kpi("open orders", open.length),
        kpi("SLA breaches", breached.length, breached.length ? "bad" : "ok"),
        ...Object.entries(byState).map(([s, n]) => kpi(fmt.label(s), n)),
      ),
      breached.length
        ? table(
            ["order", "asset", "priority", "state", "opened"],
            breached.slice(0, 20).map((o) =>
              h(
                "tr",
                { dataset: { order: o.id } },
                h("td", {}, `#${o.id} ${o.title}`),
                h("td", {}, h("a", { href: `/assets/${encodeURIComponent(o.asset_id)}` }, o.asset_id)),
                h("td", {}, badge(o.priority, "prio")),
                h("td", {}, badge(o.state)),
                h("td", {}, fmt.ago(o.opened_at)),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No open order is breaching its SLA."),
    );
  } catch (err) {
    // a viewer's token may read assets but not orders
    return section("Work orders", err.status === 403 ? h("p", { class: "muted" }, "Your role cannot read work orders.") : errorBox(err));
  }
}

async function eventsSection() {
  try {
    const q = new URLSearchParams({ limit: "15" });
    if (filters.estate) q.set("estate", filters.estate);
    const events = await api(`/events?${q}`);
    return section(
      "Latest events",
      events.length
        ? table(
            ["time", "asset", "type", "code"],
            events.map((e) =>
              h(
                "tr",
                {},
                h("td", {}, fmt.time(e.ts)),
                h("td", {}, h("a", { href: `/assets/${encodeURIComponent(e.asset)}` }, e.asset)),
                h("td", {}, badge(e.type, "event")),
                h("td", {}, fmt.label(e.code)),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No events in the last 30 days."),
    );
  } catch (err) {
    return section("Latest events", errorBox(err));
  }
}

async function render() {
  if (needToken("Estate overview", render)) return;
  try {
    const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    const [estates, all, assets] = await Promise.all([api("/estates"), api("/assets"), api(`/assets?${q}`)]);
    const kinds = [...new Set(all.map((a) => a.kind))].map((k) => ({ value: k, label: fmt.label(k) }));
    const [risk, orders, events] = await Promise.all([riskSection(), ordersSection(), eventsSection()]);
    mount(
      h("h1", {}, "Estate overview"),
      summary(all),
      estateCards(estates, all),
      h(
        "div",
        { class: "two" },
        orders,
        risk,
      ),
      section(
        "Assets",
        h(
          "div",
          { class: "filters" },
          select("estate", estates.map((e) => ({ value: e.id, label: e.name })), (v) => ((filters.estate = v), render())),
          select("kind", kinds, (v) => ((filters.kind = v), render())),
          select("state", STATES.map((s) => ({ value: s, label: fmt.label(s) })), (v) => ((filters.state = v), render())),
        ),
        assetTable(assets),
      ),
      events,
      h("p", { class: "muted small" }, `Updated ${new Date().toLocaleTimeString()} · refreshes every 30 s`),
    );
    document.body.dataset.ready = "1";
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) needToken("Estate overview", render, err);
    else mount(h("h1", {}, "Estate overview"), errorBox(err));
    document.body.dataset.ready = "1";
  }
}

render();
setInterval(render, 30_000);
