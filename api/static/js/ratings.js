// Ratings page: monthly scores, rank overall and in group, the quarter's four colours and next inspections,
// drill-down from a score to its indicators and metrics (numerator / denominator / evidence).
import { ApiError, api, badge, errorBox, fmt, h, hasEndpoint, mount, section, table, token, tokenForm } from "./common.js";

const now = new Date();
const months = [...Array(6).keys()].map((i) => {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
});
// the running month is scored to date; until it has data, start on the last complete one
const state = { month: months[0], entity: "company", chosen: false };

function quarterOf(month) {
  const [y, m] = month.split("-").map(Number);
  return `${y}Q${Math.floor((m - 1) / 3) + 1}`;
}

function metricsTable(metrics, entity, id) {
  const rows = Object.entries(metrics || {}).map(([name, m]) =>
    h(
      "tr",
      { class: "clickable", dataset: { metric: name }, onclick: () => evidence(entity, id, name) },
      h("td", {}, fmt.label(name)),
      h("td", {}, m.display ?? fmt.num(m.value)),
      h("td", {}, m.numerator === null || m.numerator === undefined ? "—" : `${fmt.num(m.numerator)} / ${fmt.num(m.denominator)}`),
      h("td", {}, m.evidence ?? "—"),
      h("td", { class: "muted" }, m.note || ""),
    ),
  );
  return table(["metric", "value", "numerator / denominator", "records", "note"], rows);
}

async function evidence(entity, id, metric) {
  const box = document.getElementById("evidence");
  box.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const e = await api(`/ratings/monthly/${state.month}/${entity}/${encodeURIComponent(id)}/metrics/${metric}`);
    const items = Array.isArray(e.evidence) ? e.evidence : [];
    box.replaceChildren(
      section(
        `${fmt.label(metric)}: ${e.display ?? fmt.num(e.value)}`,
        h("p", { class: "muted" }, `${items.length} records behind this figure${items.length > 50 ? " (first 50 shown)" : ""}.`),
        h("pre", { class: "evidence" }, items.slice(0, 50).map((x) => JSON.stringify(x)).join("\n")),
      ),
    );
  } catch (err) {
    box.replaceChildren(errorBox(err));
  }
}

async function drill(entity, id) {
  const box = document.getElementById("drill");
  box.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const r = await api(`/ratings/monthly/${state.month}/${entity}/${encodeURIComponent(id)}`);
    box.replaceChildren(
      section(
        `${r.name || r.id} · ${state.month} · score ${fmt.num(r.score, 1)}`,
        r.note ? h("p", { class: "muted" }, r.note) : null,
        h("h3", {}, "Indicators"),
        table(
          ["indicator", "value", "points", "weight", "contribution"],
          (r.indicators || []).map((i) =>
            h("tr", { dataset: { indicator: i.name } }, h("td", {}, fmt.label(i.name)), h("td", {}, fmt.num(i.value)), h("td", {}, fmt.num(i.points, 1)), h("td", {}, fmt.pct(i.effective_weight ?? i.weight)), h("td", {}, fmt.num(i.contribution, 1))),
          ),
        ),
        h("h3", {}, "Metrics (click one for the records behind it)"),
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
      "month",
      h("select", { name: "month", onchange: (e) => ((state.month = e.target.value), (state.chosen = true), render()) }, months.map((m) => h("option", { value: m, selected: m === state.month }, m))),
    ),
    h(
      "label",
      { class: "filter" },
      "rate",
      h(
        "select",
        { name: "entity", onchange: (e) => ((state.entity = e.target.value), (state.chosen = true), render()) },
        h("option", { value: "company", selected: state.entity === "company" }, "property companies"),
        h("option", { value: "estate", selected: state.entity === "estate" }, "estates"),
      ),
    ),
  );
}

async function render() {
  const title = h("h1", {}, "Property-company ratings");
  if (!(await hasEndpoint("/ratings/rankings/{period}"))) {
    mount(title, section("Ratings", h("p", { class: "muted" }, "Ratings are not available on this server yet.")));
    document.body.dataset.ready = "1";
    return;
  }
  if (!token()) {
    mount(title, tokenForm(render, "Ratings need an engineer, supervisor or admin API token."));
    document.body.dataset.ready = "1";
    return;
  }
  try {
    const quarter = quarterOf(state.month);
    const [ranked, colours] = await Promise.all([
      api(`/ratings/rankings/${state.month}?entity=${state.entity}`),
      api(`/ratings/quarterly/${quarter}`).catch(() => []),
    ]);
    if (!state.chosen && state.month === months[0] && ranked.every((r) => r.score === null || r.score === undefined)) {
      state.chosen = true;
      state.month = months[1];
      return render();
    }
    const colourOf = Object.fromEntries(colours.filter((q) => q.entity === state.entity).map((q) => [q.id, q]));
    const rows = [...ranked]
      .sort((a, b) => (a.rank_overall ?? 1e9) - (b.rank_overall ?? 1e9))
      .map((r) => {
        const q = colourOf[r.id];
        return h(
          "tr",
          { class: "clickable", dataset: { id: r.id }, onclick: () => drill(state.entity, r.id) },
          h("td", {}, r.name || r.id),
          h("td", {}, fmt.label(r.group || "—")),
          h("td", {}, r.score === null || r.score === undefined ? "no data" : fmt.num(r.score, 1)),
          h("td", {}, r.rank_overall ?? "—"),
          h("td", {}, r.rank_in_group ? `${r.rank_in_group} of ${r.group_size}` : "—"),
          h("td", {}, fmt.pct(r.coverage)),
          h("td", {}, q && q.colour ? badge(q.colour, "colour") : "—"),
          h("td", { class: "muted" }, q && q.inspection ? q.inspection : ""),
        );
      });
    mount(
      title,
      controls(),
      section(
        `Scores for ${state.month}, colours for ${quarter}`,
        rows.length
          ? table(["name", "group", "score", "rank", "rank in group", "data coverage", `colour ${quarter}`, "next quarter"], rows)
          : h("p", { class: "muted" }, "Nothing to rate for this month."),
        h("p", { class: "muted small" }, "Click a row for its indicators and the records behind each metric."),
      ),
      h("div", { id: "drill" }),
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      mount(title, errorBox(err), tokenForm(render, "That token was refused. Enter a valid token."));
    } else {
      mount(title, controls(), errorBox(err));
    }
  }
  document.body.dataset.ready = "1";
}

render();
