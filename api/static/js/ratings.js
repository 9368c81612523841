// Ratings page: monthly scores, four-colour ratings, rank in group, drill-down into indicators.
import { api, badge, errorBox, fmt, h, hasEndpoint, mount, section, table } from "./common.js";

function rowsOf(data) {
  return Array.isArray(data) ? data : data.items || data.ratings || data.results || [];
}

function breakdown(r) {
  const items = r.indicators || r.breakdown || [];
  if (!items.length) return h("p", { class: "muted" }, "No indicator breakdown for this rating.");
  return table(
    ["indicator", "value", "score", "weight"],
    items.map((i) => h("tr", {}, h("td", {}, fmt.label(i.name || i.indicator || i.id)), h("td", {}, fmt.num(i.value)), h("td", {}, fmt.num(i.score)), h("td", {}, i.weight !== undefined ? fmt.pct(i.weight) : "—"))),
  );
}

async function render() {
  if (!(await hasEndpoint("/ratings"))) {
    mount(h("h1", {}, "Property-company ratings"), section("Ratings", h("p", { class: "muted" }, "Ratings are not available on this server yet.")));
    document.body.dataset.ready = "1";
    return;
  }
  try {
    const rows = rowsOf(await api("/ratings"));
    const detail = h("div", { id: "drill" });
    mount(
      h("h1", {}, "Property-company ratings"),
      section(
        "Scores and colours",
        rows.length
          ? table(
              ["company", "estate", "group", "period", "score", "colour", "rank in group"],
              rows.map((r) =>
                h(
                  "tr",
                  {
                    class: "clickable",
                    dataset: { company: r.company || r.company_id || "" },
                    onclick: () => detail.replaceChildren(section(`${r.company_name || r.company} · ${r.estate || ""} · ${r.period || ""}`, breakdown(r))),
                  },
                  h("td", {}, r.company_name || r.company || r.company_id),
                  h("td", {}, r.estate || r.estate_id || "—"),
                  h("td", {}, fmt.label(r.group || "—")),
                  h("td", {}, r.period || r.quarter || r.month || "—"),
                  h("td", {}, fmt.num(r.score, 1)),
                  h("td", {}, r.colour ? badge(r.colour, "colour") : "—"),
                  h("td", {}, r.rank_in_group ?? r.group_rank ?? "—"),
                ),
              ),
            )
          : h("p", { class: "muted" }, "No ratings published yet."),
      ),
      detail,
    );
  } catch (err) {
    mount(h("h1", {}, "Property-company ratings"), errorBox(err));
  }
  document.body.dataset.ready = "1";
}

render();
