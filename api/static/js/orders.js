// The engineer's orders page: proposals to approve or decline, and every order with filters, sort, paging, CSV.
import {
  API, ApiError, actionMessage, api, badge, errorBox, fmt, h, isoToLocalInput, live, localInputToIso, mount,
  needToken, notice, section, t, table, token, tr,
} from "./common.js";

const PAGE = 50;
const FILTERS = ["estate", "kind", "type", "state", "priority", "crew_id"];
const OPTIONS = {
  kind: ["elevator", "fire_alarm", "water_pump", "smart_bin"].map((k) => [k, tr("kind", k)]),
  type: ["corrective", "resident_report", "preventive", "inspection"].map((k) => [k, tr("order.type", k)]),
  state: ["created", "assigned", "acknowledged", "in_progress", "resolved", "verified", "closed", "rejected", "cancelled", "reopened"].map((k) => [k, tr("order.state", k)]),
  priority: ["p1", "p2", "p3", "p4"].map((k) => [k, tr("priority", k)]),
};
const SORTS = ["newest", "oldest", "priority", "scheduled"];

// the page's state lives in the address bar, so a link (e.g. from the overview) opens a filtered list
const params = new URLSearchParams(location.search);
const state = {
  q: params.get("q") || "",
  sort: SORTS.includes(params.get("sort")) ? params.get("sort") : "newest",
  page: Math.max(0, Number(params.get("page")) || 0),
  ...Object.fromEntries(FILTERS.map((f) => [f, params.get(f) || ""])),
};
let crews = [];
let estates = [];

function query(extra = {}) {
  const q = new URLSearchParams();
  for (const f of FILTERS) if (state[f]) q.set(f, state[f]);
  if (state.q) q.set("q", state.q);
  q.set("sort", state.sort);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

function remember() {
  const q = query();
  if (state.page) q.set("page", state.page);
  history.replaceState(null, "", `${location.pathname}?${q}`);
}

function select(name, options, label) {
  return h(
    "label",
    { class: "filter" },
    label,
    h(
      "select",
      { name, onchange: (e) => ((state[name] = e.target.value), (state.page = 0), render()) },
      h("option", { value: "" }, t("common.all")),
      options.map(([v, text]) => h("option", { value: v, selected: state[name] === v }, text)),
    ),
  );
}

function crewSelect(selected, name = "crew") {
  return h(
    "select",
    { name, "aria-label": t("action.crew") },
    crews.map((c) => h("option", { value: c.id, selected: c.id === selected }, `${c.name} (${c.id})`)),
  );
}

async function run(orderId, what, path, body) {
  try {
    await api(`/orders/${orderId}/${path}`, { method: "POST", body });
    notice(actionMessage(orderId, what));
    await render();
  } catch (err) {
    notice(actionMessage(orderId, what, err), false);
  }
}

function proposalRow(o) {
  const crew = crewSelect(o.suggested_crew);
  const when = h("input", { type: "datetime-local", name: "when", value: isoToLocalInput(o.scheduled_for), "aria-label": t("action.when") });
  const reason = h("input", { type: "text", name: "reason", placeholder: t("action.reason"), "aria-label": t("action.reason"), maxlength: 2000 });
  return h(
    "tr",
    { dataset: { proposal: o.id } },
    h("td", {}, h("a", { href: `/orders/${o.id}` }, `#${o.id}`), " ", o.title),
    h("td", {}, h("a", { href: `/assets/${encodeURIComponent(o.asset_id)}` }, o.asset_id), h("div", { class: "muted small" }, `${tr("kind", o.kind)} · ${o.estate_id} ${o.building}`)),
    h("td", {}, o.suggested_crew ? null : h("div", { class: "muted small" }, t("orders.no_crew")), crew, when),
    h(
      "td",
      { class: "actions-cell" },
      h("button", {
        class: "primary",
        dataset: { action: "approve" },
        onclick: () => run(o.id, "approved", "approve", { crew_id: crew.value || null, scheduled_for: localInputToIso(when.value), version: o.version }),
      }, t("action.approve")),
      reason,
      h("button", {
        class: "danger",
        dataset: { action: "decline" },
        onclick: () => {
          if (!reason.value.trim()) return reason.classList.add("invalid"), reason.focus();
          run(o.id, "declined", "decline", { reason: reason.value.trim(), version: o.version });
        },
      }, t("action.decline")),
    ),
  );
}

async function proposals() {
  const rows = await api("/orders?state=created&sort=priority&limit=100");
  return section(
    t("orders.proposals"),
    rows.length
      ? table([t("col.order"), t("col.asset"), `${t("col.crew")} / ${t("col.scheduled")}`, ""], rows.map(proposalRow))
      : h("p", { class: "muted", id: "no-proposals" }, t("orders.no_proposals")),
  );
}

async function exportCsv() {
  // with a bearer token the file is fetched (headers) and saved; with a session cookie a link would do
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  const r = await fetch(`${API}/orders.csv?${query({ lang: document.body.dataset.lang })}`, { headers });
  if (!r.ok) throw new ApiError(r.status, await r.text());
  const url = URL.createObjectURL(await r.blob());
  const a = h("a", { href: url, download: "orders.csv" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

function orderRow(o) {
  const late = o.sla.response_breached || o.sla.resolution_breached;
  return h(
    "tr",
    { dataset: { order: o.id, state: o.state }, class: late ? "late-row" : "" },
    h("td", {}, h("a", { href: `/orders/${o.id}` }, `#${o.id}`)),
    h("td", {}, o.title),
    h("td", {}, h("a", { href: `/assets/${encodeURIComponent(o.asset_id)}` }, o.asset_id)),
    h("td", {}, tr("kind", o.kind)),
    h("td", {}, o.estate_id),
    h("td", {}, tr("order.type", o.type)),
    h("td", {}, badge(o.priority, "prio")),
    h("td", {}, badge(o.state), late ? h("span", { class: "late small" }, ` ${t("order.breached")}`) : null),
    h("td", {}, o.crew_id || "—"),
    h("td", {}, fmt.time(o.scheduled_for)),
    h("td", {}, fmt.time(o.opened_at)),
  );
}

async function listSection() {
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  const r = await fetch(`${API}/orders?${query({ limit: PAGE, offset: state.page * PAGE })}`, { headers: { Accept: "application/json", ...headers } });
  if (!r.ok) throw new ApiError(r.status, (await r.json().catch(() => ({}))).detail || r.statusText);
  const rows = await r.json();
  const total = Number(r.headers.get("X-Total-Count") || rows.length);
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const search = h("input", { type: "search", name: "q", value: state.q, placeholder: t("common.search"), "aria-label": t("common.search") });
  return section(
    t("page.orders"),
    h(
      "form",
      { class: "filters", id: "order-filters", onsubmit: (e) => (e.preventDefault(), (state.q = search.value.trim()), (state.page = 0), render()) },
      select("estate", estates.map((e) => [e.id, e.name]), t("col.estate")),
      select("kind", OPTIONS.kind, t("col.kind")),
      select("type", OPTIONS.type, t("col.type")),
      select("state", OPTIONS.state, t("col.state")),
      select("priority", OPTIONS.priority, t("col.priority")),
      select("crew_id", crews.map((c) => [c.id, c.name]), t("col.crew")),
      h("label", { class: "filter" }, t("orders.sort"), h("select", { name: "sort", onchange: (e) => ((state.sort = e.target.value), render()) }, SORTS.map((s) => h("option", { value: s, selected: state.sort === s }, t(`orders.sort.${s}`))))),
      search,
      h("button", { type: "submit" }, t("common.search")),
      h("button", { type: "button", id: "export-csv", onclick: () => exportCsv().catch((err) => notice(err.message, false)) }, t("common.export_csv")),
    ),
    rows.length
      ? table(["order", "title", "asset", "kind", "estate", "type", "priority", "state", "crew", "scheduled", "opened"].map((k) => t(`col.${k}`)), rows.map(orderRow))
      : h("p", { class: "muted", id: "no-orders" }, t("orders.none")),
    h(
      "div",
      { class: "pager" },
      h("button", { id: "prev-page", disabled: state.page === 0, onclick: () => ((state.page -= 1), render()) }, t("common.prev")),
      h("span", { id: "page-info" }, ` ${t("common.page_of", { page: state.page + 1, total })} `),
      h("button", { id: "next-page", disabled: state.page + 1 >= pages, onclick: () => ((state.page += 1), render()) }, t("common.next")),
    ),
  );
}

async function render() {
  if (needToken(t("page.orders"), render)) return;
  remember();
  try {
    if (!crews.length) [crews, estates] = await Promise.all([api("/crews"), api("/estates")]);
    const [queue, list] = await Promise.all([proposals(), listSection()]);
    mount(h("h1", {}, t("page.orders")), queue, list);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return needToken(t("page.orders"), render, err);
    mount(h("h1", {}, t("page.orders")), errorBox(err));
  }
  document.body.dataset.ready = "1";
}

render();
live(() => render(), { topics: "order" });
