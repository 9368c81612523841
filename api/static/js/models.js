// The models in service: each kind's model, version, held-out figures, when it was trained.
import { ApiError, api, errorBox, fmt, h, mount, needToken, section, t, table, tr } from "./common.js";

// a number found under one of the paths, e.g. metric(m, "held_out.brier")
function metric(m, ...paths) {
  for (const path of paths) {
    const v = path.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), m);
    if (typeof v === "number") return fmt.num(v, 3);
  }
  return "—";
}

// what the forecasts come from: the model, or the kind's average curve and why (Kaplan–Meier is served)
function served(m) {
  if (m.served !== "kaplan_meier") return m.served || m.model;
  const why = m.served_why;
  return [t("models.km"), why ? h("div", { class: "muted small why" }, t(`models.why.${why.code}`, why)) : null];
}

async function render() {
  if (needToken(t("page.models"), render)) return;
  try {
    const models = await api("/models");
    mount(
      h("h1", {}, t("page.models")),
      section(
        "",
        models.length
          ? table(
              ["kind", "model", "served", "version", "trained", "concordance", "brier", "brier_km", "data"].map((k) => t(`col.${k}`)).concat([""]),
              models.map((m) =>
                h(
                  "tr",
                  { dataset: { kind: m.kind } },
                  h("td", {}, tr("kind", m.kind)),
                  h("td", {}, m.model),
                  h("td", { dataset: { served: m.served } }, served(m)),
                  h("td", { class: "small" }, m.version),
                  h("td", {}, fmt.time(m.created)),
                  h("td", {}, metric(m.metrics, "backtest.concordance", "held_out.concordance", "concordance")),
                  h("td", { dataset: { metric: "brier" } }, metric(m.metrics, "held_out.brier", "brier")),
                  h("td", {}, metric(m.metrics, "held_out.brier_km")),
                  h("td", { class: "small" }, m.data && m.data.n !== undefined ? t("models.data", { n: m.data.n, events: m.data.events ?? "—" }) : "—"),
                  h("td", { class: "muted small" }, m.telemetry ? t("models.telemetry") : t("models.events")),
                ),
              ),
            )
          : h("p", { class: "muted", id: "no-models" }, t("models.none")),
      ),
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return needToken(t("page.models"), render, err);
    mount(h("h1", {}, t("page.models")), errorBox(err));
  }
  document.body.dataset.ready = "1";
}

render();
