// The alarm console: open alarms with their repeat counts, counts per estate, acknowledge and clear,
// updated live from the SSE stream (GET /api/v1/stream) instead of polling.
import { api, errorBox, fmt, h, lang, live, mount, needToken, section, table } from "./common.js";

// zh first; these strings move to facility/locale once the catalogue has them
const TEXT = {
  zh: {
    title: "告警", estate: "小区", kind: "类型", severity: "级别", state: "状态", any: "全部", open: "未清除",
    asset: "设备", rule: "规则", count: "次数", first: "首次", last: "最近", order: "工单", actions: "操作",
    ack: "确认", clear: "清除", none: "没有符合条件的告警", counts: "未清除告警（按小区）", total: "合计",
    unacked: "未确认", outcome: "结论", detail: "说明",
    critical: "紧急", major: "重要", minor: "次要", warning: "提示",
    active: "未确认", acknowledged: "已确认", cleared: "已清除", cleared_unacknowledged: "已清除（未确认）",
    elevator: "电梯", fire_alarm: "消防报警", water_pump: "水泵", smart_bin: "智能垃圾桶",
    false_alarm: "误报", fire: "真实火警", test: "测试",
  },
  en: {
    title: "Alarms", estate: "Estate", kind: "Kind", severity: "Severity", state: "State", any: "all", open: "not cleared",
    asset: "Asset", rule: "Rule", count: "Count", first: "First", last: "Last", order: "Order", actions: "",
    ack: "Acknowledge", clear: "Clear", none: "No alarms match", counts: "Uncleared alarms by estate", total: "Total",
    unacked: "Unacknowledged", outcome: "Outcome", detail: "Detail",
    critical: "Critical", major: "Major", minor: "Minor", warning: "Warning",
    active: "active", acknowledged: "acknowledged", cleared: "cleared", cleared_unacknowledged: "cleared, unacknowledged",
    elevator: "Lift", fire_alarm: "Fire-alarm panel", water_pump: "Water pump", smart_bin: "Smart bin",
    false_alarm: "false alarm", fire: "fire", test: "test",
  },
};
const T = TEXT[lang] || TEXT.zh;
const tx = (k) => T[k] ?? String(k).replaceAll("_", " ");

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
    h("td", {}, a.rule, a.detail ? h("div", { class: "muted" }, a.detail) : null),
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
    select("kind", [["", tx("any")], ...["elevator", "fire_alarm", "water_pump", "smart_bin"].map((k) => [k, tx(k)])]),
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
