// Estate overview: assets by state, intactness, open faults, risk ranking, open orders and SLA breaches.
import { api, badge, errorBox, fmt, h, hasEndpoint, mount, section, table, token } from "./common.js";

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

async function riskSection() {
  if (!(await hasEndpoint("/forecasts/ranking"))) {
    return section("Risk ranking", h("p", { class: "muted" }, "Forecasts are not available on this server yet."));
  }
  try {
    const data = await api("/forecasts/ranking?limit=10");
    const rows = (Array.isArray(data) ? data : data.items || data.ranking || []).slice(0, 10);
    if (!rows.length) return section("Risk ranking", h("p", { class: "muted" }, "No forecasts yet."));
    return section(
      "Risk ranking",
      table(
        ["asset", "kind", "P(fail ≤ 30 d)", "predicted window"],
        rows.map((r) => {
          const id = r.asset_id || r.asset;
          const lo = r.window_start_h ?? r.window?.start_h;
          const hi = r.window_end_h ?? r.window?.end_h;
          return h(
            "tr",
            { dataset: { asset: id } },
            h("td", {}, h("a", { href: `/assets/${encodeURIComponent(id)}` }, id)),
            h("td", {}, fmt.label(r.kind || "")),
            h("td", {}, fmt.pct(r.p30 ?? r.risk)),
            h("td", {}, lo !== undefined && hi !== undefined ? `${fmt.num(lo / 24, 0)}–${fmt.num(hi / 24, 0)} days` : "—"),
          );
        }),
      ),
    );
  } catch (err) {
    return section("Risk ranking", errorBox(err));
  }
}

async function ordersSection() {
  if (!(await hasEndpoint("/orders"))) {
    return section("Work orders", h("p", { class: "muted" }, "Work orders are not available on this server yet."));
  }
  if (!token()) {
    return section(
      "Work orders",
      h("p", { class: "muted" }, "Open orders and SLA breaches need an API token: ", h("a", { href: "/crew" }, "enter it on the crew page"), "."),
    );
  }
  try {
    const orders = await api("/orders?limit=500", { auth: true });
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
    return section("Work orders", errorBox(err));
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
    mount(h("h1", {}, "Estate overview"), errorBox(err));
    document.body.dataset.ready = "1";
  }
}

render();
setInterval(render, 30_000);
