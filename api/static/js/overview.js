// Estate overview: assets by state, intactness, open faults, risk ranking, open orders and SLA breaches.
import { ApiError, api, badge, errorBox, fmt, h, hasEndpoint, live, mount, needToken, section, t, table, tr } from "./common.js";

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
    kpi(t("ov.assets"), assets.length),
    kpi(t("ov.in_service"), c.in_service, "ok"),
    kpi(t("ov.faulted"), c.faulted, c.faulted ? "bad" : ""),
    kpi(t("ov.offline"), c.offline, c.offline ? "warn" : ""),
    kpi(t("ov.intactness"), intact === null ? "—" : fmt.pct(intact), intact !== null && intact < 0.98 ? "warn" : "ok"),
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
        h("p", { class: "muted" }, t("ov.estate_line", { company: e.company_name, group: tr("group", e.group), n: e.assets })),
        h("p", {}, STATES.filter((s) => c[s]).map((s) => h("span", { class: "pill" }, badge(s), ` ${c[s]}`))),
      );
    }),
  );
}

function select(name, options, onchange) {
  return h(
    "label",
    { class: "filter" },
    t(`col.${name}`),
    h(
      "select",
      { name, onchange: (e) => onchange(e.target.value) },
      h("option", { value: "" }, t("common.all")),
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
      h("td", {}, tr("kind", a.kind)),
      h("td", {}, badge(a.state)),
      h("td", {}, a.open_faults.map((c) => tr("code", c)).join("、") || "—"),
      h("td", {}, a.latest ? fmt.ago(a.latest.ts) : "—"),
    ),
  );
  return table(["asset", "estate", "building", "kind", "state", "open_faults", "last_reading"].map((k) => t(`col.${k}`)), rows);
}

function windowText(f) {
  if (!f.window_start || !f.window_end) return "—";
  const days = (t) => (new Date(t).getTime() - new Date(f.now).getTime()) / 86400e3;
  return t("ov.window_days", { a: fmt.num(days(f.window_start), 0), b: fmt.num(days(f.window_end), 0) });
}

async function riskSection() {
  if (!(await hasEndpoint("/forecasts/ranking"))) {
    return section(t("ov.risk"), h("p", { class: "muted" }, t("ov.forecasts_unavailable")));
  }
  try {
    const q = new URLSearchParams({ limit: "10" });
    if (filters.kind) q.set("kind", filters.kind);
    const rows = await api(`/forecasts/ranking?${q}`);
    if (!rows.length) return section(t("ov.risk"), h("p", { class: "muted" }, t("ov.no_forecasts")));
    return section(
      t("ov.risk"),
      table(
        ["asset", "kind", "p30", "risk", "window"].map((k) => t(`col.${k}`)),
        rows.map((f) =>
          h(
            "tr",
            { dataset: { risk: f.asset } },
            h("td", {}, h("a", { href: `/assets/${encodeURIComponent(f.asset)}` }, f.asset)),
            h("td", {}, tr("kind", f.kind)),
            h("td", {}, fmt.pct(f.p_fail_30d)),
            h("td", { title: t("ov.risk_note") }, fmt.num(f.risk, 2)),
            h("td", {}, windowText(f)),
          ),
        ),
      ),
      h("p", { class: "muted small" }, t("ov.risk_note")),
    );
  } catch (err) {
    // 409: no model trained for these kinds yet — say so, it is not a page error
    return section(t("ov.risk"), err.status === 409 ? h("p", { class: "muted" }, err.message) : errorBox(err));
  }
}

async function ordersSection() {
  if (!(await hasEndpoint("/orders"))) {
    return section(t("ov.orders"), h("p", { class: "muted" }, t("ov.orders_unavailable")));
  }
  try {
    const orders = await api("/orders?limit=500");
    const open = orders.filter((o) => !["resolved", "verified", "closed", "cancelled"].includes(o.state));
    const breached = open.filter((o) => o.sla.response_breached || o.sla.resolution_breached);
    const byState = {};
    for (const o of open) byState[o.state] = (byState[o.state] || 0) + 1;
    const proposals = open.filter((o) => o.state === "created" && o.type === "preventive").length;
    return section(
      t("ov.orders"),
      h(
        "div",
        { class: "kpis", id: "order-kpis" },
        kpi(t("ov.open_orders"), open.length),
        kpi(t("ov.sla_breaches"), breached.length, breached.length ? "bad" : "ok"),
        ...Object.entries(byState).map(([s, n]) => kpi(tr("order.state", s), n)),
      ),
      proposals
        ? h("p", {}, t("ov.proposals"), " · ", h("a", { href: "/orders?state=created&type=preventive", id: "proposals-link" }, t("ov.proposals_link", { n: proposals })))
        : null,
      breached.length
        ? table(
            ["order", "asset", "priority", "state", "opened"].map((k) => t(`col.${k}`)),
            breached.slice(0, 20).map((o) =>
              h(
                "tr",
                { dataset: { order: o.id } },
                h("td", {}, h("a", { href: `/orders/${o.id}` }, `#${o.id}`), ` ${o.title}`),
                h("td", {}, h("a", { href: `/assets/${encodeURIComponent(o.asset_id)}` }, o.asset_id)),
                h("td", {}, badge(o.priority, "prio")),
                h("td", {}, badge(o.state)),
                h("td", {}, fmt.ago(o.opened_at)),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("ov.no_breach")),
    );
  } catch (err) {
    // a viewer's token may read assets but not orders
    return section(t("ov.orders"), err.status === 403 ? h("p", { class: "muted" }, t("ov.role_no_orders")) : errorBox(err));
  }
}

async function eventsSection() {
  try {
    const q = new URLSearchParams({ limit: "15" });
    if (filters.estate) q.set("estate", filters.estate);
    const events = await api(`/events?${q}`);
    return section(
      t("ov.events"),
      events.length
        ? table(
            ["time", "asset", "event_type", "code"].map((k) => t(`col.${k}`)),
            events.map((e) =>
              h(
                "tr",
                {},
                h("td", {}, fmt.time(e.ts)),
                h("td", {}, h("a", { href: `/assets/${encodeURIComponent(e.asset)}` }, e.asset)),
                h("td", {}, badge(e.type, "event")),
                h("td", {}, tr("code", e.code)),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("ov.no_events")),
    );
  } catch (err) {
    return section(t("ov.events"), errorBox(err));
  }
}

async function render() {
  if (needToken(t("page.overview"), render)) return;
  try {
    const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    const [estates, all, assets] = await Promise.all([api("/estates"), api("/assets"), api(`/assets?${q}`)]);
    const kinds = [...new Set(all.map((a) => a.kind))].map((k) => ({ value: k, label: tr("kind", k) }));
    const [risk, orders, events] = await Promise.all([riskSection(), ordersSection(), eventsSection()]);
    mount(
      h("h1", {}, t("page.overview")),
      summary(all),
      estateCards(estates, all),
      h(
        "div",
        { class: "two" },
        orders,
        risk,
      ),
      section(
        t("ov.assets_title"),
        h(
          "div",
          { class: "filters" },
          select("estate", estates.map((e) => ({ value: e.id, label: e.name })), (v) => ((filters.estate = v), render())),
          select("kind", kinds, (v) => ((filters.kind = v), render())),
          select("state", STATES.map((s) => ({ value: s, label: tr("asset.state", s) })), (v) => ((filters.state = v), render())),
        ),
        assetTable(assets),
      ),
      events,
      h("p", { class: "muted small", id: "updated" }, t("common.updated", { time: fmt.time(new Date()) })),
    );
    document.body.dataset.ready = "1";
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) needToken(t("page.overview"), render, err);
    else mount(h("h1", {}, t("page.overview")), errorBox(err));
    document.body.dataset.ready = "1";
  }
}

render();
live(render);
