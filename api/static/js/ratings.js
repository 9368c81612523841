// Ratings page: monthly scores of property companies or of estates (the title says which), rank overall and in
// group, the quarter's four colours and next inspections, "provisional" while a period is not final, drill-down
// from a score to its indicators (effective weights in %, adding up to 100 %) and to the records behind each
// metric, and links to the monthly and quarterly reports (company and district, Chinese or English).
import { API, ApiError, api, errorBox, fmt, h, lang, mount, needToken, section, table, token } from "./common.js";

// this page's words (zh first); they move to the message catalogue (facility/locale) with the rest
const WORDS = {
  zh: {
    title_company: "物业服务企业考核评级",
    title_estate: "小区考核评级",
    month: "月份",
    rate: "考核对象",
    companies: "物业服务企业",
    estates: "小区",
    scores: "{month} 得分，{quarter} 挂牌",
    provisional: "暂定",
    provisional_note: "暂定：考核期未结束或数据不完整，结果可能变化",
    final: "正式",
    name: "名称",
    group: "分组",
    score: "得分",
    rank: "排名",
    rank_in_group: "组内排名",
    observed: "监测覆盖",
    colour: "{quarter} 挂牌",
    next: "下季度检查",
    of: "{a} / {b}",
    no_data: "无数据",
    nothing: "本月没有可考核的对象。",
    click: "点击一行查看指标及其依据记录。",
    indicators: "考核指标",
    indicator: "指标",
    value: "数值",
    interval: "90% 区间",
    points: "指标得分",
    weight: "权重",
    contribution: "贡献分",
    total: "合计",
    metrics: "全部数据（点击查看依据记录）",
    metric: "数据项",
    counts: "分子 / 分母",
    records: "记录数",
    note: "说明",
    loading: "加载中…",
    behind: "该数据依据 {n} 条记录{more}。",
    first50: "（显示前 50 条）",
    reports: "报告",
    object: "提出异议",
    reason: "异议理由（如：计划内停机、工单误判超时）",
    file: "提交",
    filed: "已提交异议 #{id}，待工程师或监管人员处理",
    report_company_month: "{name} 月度报告",
    report_company_quarter: "{name} 季度报告",
    report_district_month: "辖区月度报告 {month}",
    report_district_quarter: "辖区季度报告 {quarter}",
    need_token: "查看考核评级需要工程师、监管或管理员令牌。",
    refused: "令牌被拒绝，请输入有效令牌。",
    weekly: "每周检查",
    none: "无需检查",
    per_month: "每月 {n} 次检查",
    plan: "并提交整改方案",
    colours: { green: "绿牌", blue: "蓝牌", yellow: "黄牌", red: "红牌" },
    groups: { "old-estates": "老旧小区组", "new-estates": "新建小区组", mixed: "跨组" },
  },
  en: {
    title_company: "Property-company ratings",
    title_estate: "Estate ratings",
    month: "month",
    rate: "rate",
    companies: "property companies",
    estates: "estates",
    scores: "Scores for {month}, colours for {quarter}",
    provisional: "provisional",
    provisional_note: "Provisional: the period is not over or its data are incomplete; figures may change",
    final: "final",
    name: "name",
    group: "group",
    score: "score",
    rank: "rank",
    rank_in_group: "rank in group",
    observed: "observed",
    colour: "colour {quarter}",
    next: "next quarter",
    of: "{a} of {b}",
    no_data: "no data",
    nothing: "Nothing to rate for this month.",
    click: "Click a row for its indicators and the records behind each metric.",
    indicators: "Indicators",
    indicator: "indicator",
    value: "value",
    interval: "90 % interval",
    points: "points",
    weight: "weight",
    contribution: "contribution",
    total: "total",
    metrics: "Every figure (click one for the records behind it)",
    metric: "figure",
    counts: "numerator / denominator",
    records: "records",
    note: "note",
    loading: "Loading…",
    behind: "{n} records behind this figure{more}.",
    first50: " (first 50 shown)",
    reports: "Reports",
    object: "object",
    reason: "why the record is wrong (a planned outage, an order wrongly late)",
    file: "file",
    filed: "objection #{id} filed; an engineer or supervisor decides it",
    report_company_month: "{name}: monthly report",
    report_company_quarter: "{name}: quarterly report",
    report_district_month: "District report {month}",
    report_district_quarter: "District report {quarter}",
    need_token: "Ratings need an engineer, supervisor or admin API token.",
    refused: "That token was refused. Enter a valid token.",
    weekly: "weekly inspections",
    none: "no inspection",
    per_month: "{n} inspection(s) a month",
    plan: " and a rectification plan",
    colours: { green: "green", blue: "blue", yellow: "yellow", red: "red" },
    groups: { "old-estates": "old estates", "new-estates": "new estates", mixed: "mixed" },
  },
};
const W = WORDS[lang] || WORDS.zh;
const say = (key, params = {}) => W[key].replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));

// months on the estates' calendar (Asia/Shanghai, UTC+8 all year): the last six
const now = new Date(Date.now() + 8 * 3600 * 1000);
const months = [...Array(6).keys()].map((i) => {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
});
// the running month is scored to date; until it has data, start on the last complete one
const state = { month: months[0], entity: "company", chosen: false, scheme: null };

function quarterOf(month) {
  const [y, m] = month.split("-").map(Number);
  return `${y}Q${Math.floor((m - 1) / 3) + 1}`;
}

const weight = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(1)}%`); // already in percent
const score = (v, digits = 1) => (v === null || v === undefined ? W.no_data : fmt.num(v, digits));
const group = (g) => W.groups[g] || fmt.label(g || "—");
const colourBadge = (c) => h("span", { class: `badge colour-${c}`, dataset: { value: c } }, W.colours[c] || c);
function inspection(q) {
  if (q.inspections_per_month === null || q.inspections_per_month === undefined) return "";
  const base = q.weekly ? W.weekly : q.inspections_per_month === 0 ? W.none : say("per_month", { n: q.inspections_per_month });
  return base + (q.rectification_plan ? W.plan : "");
}
// why a period is provisional (evaluation.ratings.provisional_reason, in English) in the page's language
// (the same sentences as evaluation.names.provisional_text; an unknown one: the general note)
function reasonText(reason) {
  if (!reason) return W.provisional_note;
  if (lang !== "zh") return reason;
  let m = reason.match(/^(\S+) has not ended \(it ends (\d{4}-\d\d-\d\d \d\d:\d\d) \(Asia\/Shanghai\)\)$/);
  if (m) return `${m[1]} 尚未结束（北京时间 ${m[2]} 结束）`;
  m = reason.match(/^only ([\d.]+)% of (\S+)'s asset-hours were observed \(final needs (\d+)%\)$/);
  if (m) return `${m[2]} 仅监测到 ${m[1]}% 的设备时长（正式发布需 ${m[3]}%）`;
  return W.provisional_note;
}
const provisionalBadge = () => h("span", { class: "badge provisional", title: W.provisional_note }, W.provisional);

function indicatorLabel(name) {
  const ind = (state.scheme?.indicators || []).find((i) => i.name === name);
  return (ind && (lang === "zh" ? ind.zh : ind.en)) || fmt.label(name);
}

// A report opens with the stored token when there is one (a signed-in person's cookie works as a plain link)
function reportLink(path, text) {
  const href = `${API}/ratings/reports/${path}${path.includes("?") ? "&" : "?"}lang=${lang}`;
  return h(
    "a",
    {
      href,
      target: "_blank",
      rel: "noopener",
      class: "report-link",
      onclick: async (e) => {
        if (!token()) return;
        e.preventDefault();
        const r = await fetch(href, { headers: { Authorization: `Bearer ${token()}` } });
        const url = URL.createObjectURL(await r.blob());
        window.open(url, "_blank", "noopener");
      },
    },
    text,
  );
}

// a metric's name in the page's language (the scheme's catalogue; unknown ones from their key)
const metricLabel = (name) => state.scheme?.metric_names?.[name]?.[lang] || fmt.label(name);

function metricsTable(metrics, entity, id) {
  const rows = Object.entries(metrics || {}).map(([name, m]) =>
    h(
      "tr",
      { class: "clickable", dataset: { metric: name }, onclick: () => evidence(entity, id, name) },
      h("td", {}, metricLabel(name)),
      h("td", {}, m.value === null || m.value === undefined ? W.no_data : m.display ?? fmt.num(m.value)),
      h("td", {}, m.numerator === null || m.numerator === undefined ? "—" : `${fmt.num(m.numerator)} / ${fmt.num(m.denominator)}`),
      h("td", {}, m.evidence ?? "—"),
      h("td", { class: "muted" }, m.note || ""),
    ),
  );
  return table([W.metric, W.value, W.counts, W.records, W.note], rows);
}

async function evidence(entity, id, metric) {
  const box = document.getElementById("evidence");
  box.replaceChildren(h("p", { class: "muted" }, W.loading));
  try {
    const e = await api(`/ratings/monthly/${state.month}/${entity}/${encodeURIComponent(id)}/metrics/${metric}`);
    const items = Array.isArray(e.evidence) ? e.evidence : [];
    box.replaceChildren(
      section(
        `${metricLabel(metric)}: ${e.value === null || e.value === undefined ? W.no_data : e.display ?? fmt.num(e.value)}`,
        h("p", { class: "muted" }, say("behind", { n: items.length, more: items.length > 50 ? W.first50 : "" })),
        h(
          "ul",
          { class: "evidence" },
          items.slice(0, 50).map((x) =>
            h(
              "li",
              { dataset: { record: x.id } },
              h("code", {}, JSON.stringify(x)),
              " ",
              h("button", { type: "button", class: "object", onclick: (ev) => objectionForm(ev.target.parentElement, entity, id, metric, x.id) }, W.object),
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    box.replaceChildren(errorBox(err));
  }
}

// A company objects to one record behind a figure; an engineer or supervisor decides (POST .../decision)
function objectionForm(li, entity, id, metric, record) {
  if (li.querySelector("form")) return;
  const reason = h("input", { name: "reason", required: true, maxlength: 2000, placeholder: W.reason, size: 40 });
  const out = h("span", { class: "muted" });
  const form = h(
    "form",
    {
      class: "objection",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const o = await api("/ratings/objections", {
            method: "POST",
            body: { period: state.month, entity, entity_id: id, metric, record, reason: reason.value },
          });
          out.textContent = say("filed", { id: o.id });
          form.querySelector("button").disabled = true;
        } catch (err) {
          out.textContent = err.message;
        }
      },
    },
    reason,
    " ",
    h("button", { type: "submit" }, W.file),
    " ",
    out,
  );
  li.append(form);
  reason.focus();
}

async function drill(entity, id) {
  const box = document.getElementById("drill");
  box.replaceChildren(h("p", { class: "muted" }, W.loading));
  try {
    const r = await api(`/ratings/monthly/${state.month}/${entity}/${encodeURIComponent(id)}`);
    const inds = r.indicators || [];
    const totalWeight = inds.reduce((s, i) => s + (i.effective_weight || 0), 0);
    const rows = inds.map((i) =>
      h(
        "tr",
        { dataset: { indicator: i.name } },
        h("td", {}, indicatorLabel(i.name)),
        h("td", {}, fmt.num(i.value)),
        h("td", { class: "muted" }, i.interval ? `${fmt.num(i.interval[0])}–${fmt.num(i.interval[1])}` : ""),
        h("td", {}, score(i.points)),
        h("td", { class: "weight" }, weight(i.effective_weight)),
        h("td", {}, score(i.contribution)),
      ),
    );
    rows.push(h("tr", { class: "total" }, h("th", {}, W.total), h("td", {}), h("td", {}), h("td", {}), h("th", { class: "weight" }, weight(totalWeight)), h("th", {}, score(r.score))));
    const reports =
      entity === "company"
        ? h(
            "p",
            { class: "reports" },
            reportLink(`${encodeURIComponent(id)}/${state.month}.html`, say("report_company_month", { name: r.name || id })),
            " · ",
            reportLink(`${encodeURIComponent(id)}/${quarterOf(state.month)}.html`, say("report_company_quarter", { name: r.name || id })),
            " · ",
            reportLink(`${encodeURIComponent(id)}/${state.month}.pdf`, "PDF"),
          )
        : null;
    box.replaceChildren(
      section(
        `${r.name || r.id} · ${state.month} · ${W.score} ${score(r.score)}`,
        r.provisional ? h("p", { class: "provisional-note" }, provisionalBadge(), " ", reasonText(r.provisional_reason)) : null,
        r.note ? h("p", { class: "muted" }, r.note) : null,
        reports,
        h("h3", {}, W.indicators),
        table([W.indicator, W.value, W.interval, W.points, W.weight, W.contribution], rows),
        h("h3", {}, W.metrics),
        metricsTable(r.metrics, entity, id),
        h("div", { id: "evidence" }),
      ),
    );
    box.scrollIntoView({ behavior: "smooth" });
  } catch (err) {
    box.replaceChildren(errorBox(err));
  }
}

function controls() {
  return h(
    "div",
    { class: "filters" },
    h(
      "label",
      { class: "filter" },
      W.month,
      h("select", { name: "month", onchange: (e) => ((state.month = e.target.value), (state.chosen = true), render()) }, months.map((m) => h("option", { value: m, selected: m === state.month }, m))),
    ),
    h(
      "label",
      { class: "filter" },
      W.rate,
      h(
        "select",
        { name: "entity", onchange: (e) => ((state.entity = e.target.value), (state.chosen = true), render()) },
        h("option", { value: "company", selected: state.entity === "company" }, W.companies),
        h("option", { value: "estate", selected: state.entity === "estate" }, W.estates),
      ),
    ),
  );
}

function reportsSection(quarter) {
  return section(
    W.reports,
    h(
      "p",
      { class: "reports", id: "reports" },
      reportLink(`district/${state.month}.html`, say("report_district_month", { month: state.month })),
      " · ",
      reportLink(`district/${quarter}.html`, say("report_district_quarter", { quarter })),
      " · ",
      reportLink(`district/${quarter}.pdf`, `PDF ${quarter}`),
    ),
  );
}

let renders = 0;

async function render() {
  // the entity these rows are drawn for: a click on a row still on screen while the next list loads drills
  // into what that row is, not into whatever the selector says now
  const entity = state.entity;
  // the last choice wins: a list asked for earlier (another month, the other entity) that arrives later is
  // dropped, not drawn over the one the user asked for last
  const mine = ++renders;
  const titleText = entity === "estate" ? W.title_estate : W.title_company;
  const title = h("h1", { id: "ratings-title" }, titleText);
  // signed in (the session cookie) or holding a token; else the way in: sign-in link and token form
  if (needToken(titleText, render, null, W.need_token)) return;
  try {
    const quarter = quarterOf(state.month);
    const [ranked, colours, scheme] = await Promise.all([
      api(`/ratings/rankings/${state.month}?entity=${entity}`),
      api(`/ratings/quarterly/${quarter}`).catch(() => []),
      state.scheme ? Promise.resolve(state.scheme) : api("/ratings/scheme").catch(() => null),
    ]);
    if (mine !== renders) return;
    state.scheme = scheme;
    if (!state.chosen && state.month === months[0] && ranked.every((r) => r.score === null || r.score === undefined)) {
      state.chosen = true;
      state.month = months[1];
      return render();
    }
    const colourOf = Object.fromEntries(colours.filter((q) => q.entity === entity).map((q) => [q.id, q]));
    const quarterProvisional = colours.some((q) => q.provisional);
    const rows = [...ranked]
      .sort((a, b) => (a.rank_overall ?? 1e9) - (b.rank_overall ?? 1e9))
      .map((r) => {
        const q = colourOf[r.id];
        return h(
          "tr",
          { class: "clickable", dataset: { id: r.id, entity }, onclick: () => drill(entity, r.id) },
          h("td", {}, r.name || r.id),
          h("td", {}, group(r.group)),
          h("td", {}, score(r.score), r.provisional ? [" ", provisionalBadge()] : null),
          h("td", {}, r.rank_overall ?? "—"),
          h("td", {}, r.rank_in_group ? say("of", { a: r.rank_in_group, b: r.group_size }) : "—"),
          h("td", {}, fmt.pct(r.monitoring_coverage ?? null)),
          h("td", { class: "colour" }, q && q.colour ? [colourBadge(q.colour), ...(q.provisional ? [" ", provisionalBadge()] : [])] : "—"),
          h("td", { class: "muted" }, q && q.colour ? inspection(q) : ""),
        );
      });
    const provisional = ranked.some((r) => r.provisional) || quarterProvisional;
    mount(
      title,
      controls(),
      section(
        say("scores", { month: state.month, quarter }),
        provisional ? h("p", { class: "provisional-note", id: "provisional" }, provisionalBadge(), " ", W.provisional_note) : null,
        rows.length
          ? table([W.name, W.group, W.score, W.rank, W.rank_in_group, W.observed, say("colour", { quarter }), W.next], rows)
          : h("p", { class: "muted" }, W.nothing),
        h("p", { class: "muted small" }, W.click),
      ),
      reportsSection(quarter),
      h("div", { id: "drill" }),
    );
  } catch (err) {
    if (mine !== renders) return;
    if (err instanceof ApiError && err.status === 401) {
      needToken(titleText, render, err, W.refused);
      return;
    } else {
      mount(title, controls(), errorBox(err));
    }
  }
  document.body.dataset.ready = "1";
}

render();
