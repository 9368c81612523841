// The alarm console: open alarms with their repeat counts, counts per estate, acknowledge and clear,
// updated live from the SSE stream (GET /api/v1/stream) instead of polling.
import { api, errorBox, fmt, h, lang, live, mount, needToken, section, t, table } from "./common.js";

// the words come from the catalogue (facility/locale: alarms.*, asset kinds kind.*, the title page.alarms)
const KINDS = ["elevator", "fire_alarm", "water_pump", "smart_bin"];
function tx(k) {
  const key = k === "title" ? "page.alarms" : KINDS.includes(k) ? `kind.${k}` : `alarms.${k}`;
  const text = t(key);
  return text === key ? String(k).replaceAll("_", " ") : text; // a code the catalogue does not know yet
}

const filters = { estate: "", kind: "", severity: "", state: "open" };
let message = null;

function select(name, values) {
  return h(
    "label",
    {},
    tx(name) + " ",
    h(
      "select",
      {
        id: `f-${name}`,
        onchange: (e) => {
          filters[name] = e.target.value;
          load();
        },
      },
      values.map(([v, label]) => h("option", { value: v, selected: filters[name] === v }, label)),
    ),
  );
}

function query() {
  const q = new URLSearchParams({ limit: "200" });
  for (const k of ["estate", "kind", "severity"]) if (filters[k]) q.set(k, filters[k]);
  if (filters.state === "open") q.set("open", "true");
  else if (filters.state) q.set("state", filters.state);
  return q.toString();
}

async function act(alarm, action, outcome) {
  try {
    const body = action === "clear" && outcome ? { outcome } : {};
    await api(`/alarms/${alarm.id}/${action}`, { method: "POST", body });
    message = null;
  } catch (err) {
    message = errorBox(err);
  }
  await load();
}

function buttons(a) {
  const out = [];
  if (a.state === "active" || a.state === "cleared_unacknowledged")
    out.push(h("button", { class: "small", dataset: { action: "ack", id: a.id }, onclick: () => act(a, "acknowledge") }, tx("ack")));
  if (a.state === "active" || a.state === "acknowledged") {
    let outcome = null;
    if (a.rule === "fire_alarm") {
      outcome = h("select", { "aria-label": tx("outcome"), dataset: { outcome: a.id } }, ["false_alarm", "fire", "test"].map((o) => h("option", { value: o }, tx(o))));
      out.push(outcome);
    }
    out.push(h("button", { class: "small", dataset: { action: "clear", id: a.id }, onclick: () => act(a, "clear", outcome && outcome.value) }, tx("clear")));
  }
  return out;
}

function row(a) {
  return h(
    "tr",
    { dataset: { alarm: a.id, state: a.state, rule: a.rule } },
    h("td", {}, h("span", { class: `badge sev-${a.severity}`, dataset: { value: a.severity } }, tx(a.severity))),
    h("td", {}, h("a", { href: `/assets/${encodeURIComponent(a.asset)}` }, a.asset), h("div", { class: "muted" }, `${tx(a.kind)} · ${a.estate}/${a.building}`)),
    h("td", { class: "rule", title: a.rule }, (a.rule_name && a.rule_name[lang]) || a.rule, a.detail ? h("div", { class: "muted" }, (a.detail_text && a.detail_text[lang]) || a.detail) : null),
    h("td", { class: "state" }, tx(a.state)),
    h("td", { class: "count num" }, String(a.count)),
    h("td", {}, fmt.time(a.first_at)),
    h("td", {}, fmt.time(a.last_at)),
    h("td", {}, a.order ? h("a", { href: `/orders/${a.order}`, class: "order-link" }, `#${a.order}`) : "—"),
    h("td", { class: "actions" }, buttons(a)),
  );
}

function countsCard(c) {
  const rows = Object.entries(c.estates).map(([estate, n]) =>
    h("tr", {}, h("td", {}, estate), ...["critical", "major", "minor", "warning"].map((s) => h("td", { class: "num" }, String(n[s] || 0))), h("td", { class: "num" }, String(n.unacknowledged || 0)), h("td", { class: "num" }, String(n.total || 0))),
  );
  return section(tx("counts"), table([tx("estate"), tx("critical"), tx("major"), tx("minor"), tx("warning"), tx("unacked"), tx("total")], rows));
}

async function load() {
  let page, c;
  try {
    [page, c] = await Promise.all([api(`/alarms?${query()}`), api("/alarms/counts")]);
  } catch (err) {
    if (err.status === 401 && needToken(tx("title"), load, true)) return;
    mount(h("h1", {}, tx("title")), errorBox(err));
    return;
  }
  const bar = h(
    "div",
    { class: "filters" },
    h("label", {}, tx("estate") + " ", h("input", { id: "f-estate", value: filters.estate, size: 10, onchange: (e) => { filters.estate = e.target.value.trim(); load(); } })),
    select("kind", [["", tx("any")], ...KINDS.map((k) => [k, tx(k)])]),
    select("severity", [["", tx("any")], ...["critical", "major", "minor", "warning"].map((k) => [k, tx(k)])]),
    select("state", [["open", tx("open")], ["", tx("any")], ...["active", "acknowledged", "cleared_unacknowledged", "cleared"].map((k) => [k, tx(k)])]),
  );
  const list = page.alarms.length
    ? table([tx("severity"), tx("asset"), tx("rule"), tx("state"), tx("count"), tx("first"), tx("last"), tx("order"), tx("actions")], page.alarms.map(row))
    : h("p", { class: "muted", id: "no-alarms" }, tx("none"));
  mount(h("h1", {}, tx("title"), h("span", { class: "muted", id: "alarm-total" }, ` (${page.total})`)), message, bar, section(tx("title"), list), countsCard(c));
}

if (!needToken(tx("title"), load)) {
  load();
  live((ev) => {
    if (!ev || ev.event === "alarm" || ev.event === "order") load();
  });
}
