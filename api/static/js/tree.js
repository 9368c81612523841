// The asset tree: estate → building → asset, with a search over id, building, kind and location.
import { ApiError, api, badge, errorBox, h, mount, needToken, t, tr } from "./common.js";

let query = new URLSearchParams(location.search).get("q") || "";
let data = null;

function matches(a, words) {
  const text = `${a.id} ${a.building} ${a.kind} ${tr("kind", a.kind)} ${a.location || ""} ${a.model}`.toLowerCase();
  return words.every((w) => text.includes(w));
}

function tree() {
  const [estates, assets] = data;
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = assets.filter((a) => matches(a, words));
  return h(
    "div",
    { class: "tree", id: "tree" },
    estates.map((e) => {
      const mine = shown.filter((a) => a.estate === e.id);
      if (!mine.length) return null;
      const buildings = [...new Set(mine.map((a) => a.building))].sort();
      return h(
        "details",
        { open: true, dataset: { estate: e.id } },
        h("summary", {}, `${e.name} `, h("span", { class: "muted" }, t("tree.count", { n: mine.length }))),
        buildings.map((b) =>
          h(
            "details",
            { open: words.length > 0 || buildings.length <= 3, class: "building", dataset: { building: b } },
            h("summary", {}, `${b} `, h("span", { class: "muted" }, t("tree.count", { n: mine.filter((a) => a.building === b).length }))),
            h(
              "ul",
              {},
              mine
                .filter((a) => a.building === b)
                .map((a) => h("li", { dataset: { asset: a.id } }, h("a", { href: `/assets/${encodeURIComponent(a.id)}` }, a.id), ` ${tr("kind", a.kind)} `, badge(a.state))),
            ),
          ),
        ),
      );
    }),
    shown.length ? null : h("p", { class: "muted" }, t("orders.none")),
  );
}

function draw() {
  const input = h("input", {
    type: "search",
    id: "asset-search",
    value: query,
    placeholder: t("tree.search"),
    "aria-label": t("tree.search"),
    oninput: (e) => {
      query = e.target.value;
      history.replaceState(null, "", query ? `?q=${encodeURIComponent(query)}` : location.pathname);
      document.getElementById("tree").replaceWith(tree());
    },
  });
  mount(h("h1", {}, t("page.assets")), h("div", { class: "filters" }, input), tree());
}

async function render() {
  if (needToken(t("page.assets"), render)) return;
  try {
    data = await Promise.all([api("/estates"), api("/assets")]);
    draw();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return needToken(t("page.assets"), render, err);
    mount(h("h1", {}, t("page.assets")), errorBox(err));
  }
  document.body.dataset.ready = "1";
}

render();
