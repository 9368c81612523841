// A week of planned work (preventive and inspection orders with a planned time), in local time.
import { ApiError, api, badge, errorBox, fmt, h, live, localParts, mount, needToken, section, t, tr } from "./common.js";

const DAY = 86400e3;
let offsetWeeks = 0;

// Monday 00:00 (display time zone) of the week containing now + offset, as epoch ms
function weekStart() {
  const now = Date.now() + offsetWeeks * 7 * DAY;
  const p = localParts(now);
  const midnightLocal = now - (p.h * 3600e3 + p.mi * 60e3) - (now % 60e3);
  return midnightLocal - p.wd * DAY;
}

async function render() {
  if (needToken(t("page.calendar"), render)) return;
  try {
    const orders = await api("/orders?type=preventive&type=inspection&sort=scheduled&limit=2000");
    const start = weekStart();
    const days = [...Array(7)].map((_, i) => start + i * DAY);
    const inWeek = orders.filter((o) => o.scheduled_for && new Date(o.scheduled_for) >= start && new Date(o.scheduled_for) < start + 7 * DAY);
    const cols = days.map((d, i) =>
      h(
        "div",
        { class: "cal-day", dataset: { day: fmt.date(d) } },
        h("h3", {}, `${t(`wd.${i}`)} ${fmt.date(d).slice(5)}`),
        inWeek
          .filter((o) => fmt.date(o.scheduled_for) === fmt.date(d))
          .map((o) =>
            h(
              "a",
              { class: `cal-item prio-${o.priority}`, href: `/orders/${o.id}`, dataset: { order: o.id } },
              h("strong", {}, fmt.clock(o.scheduled_for)),
              " ",
              o.asset_id,
              h("div", { class: "small" }, tr("order.type", o.type), " · ", o.crew_id || t("orders.no_crew"), " ", badge(o.state)),
            ),
          ),
      ),
    );
    mount(
      h("h1", {}, t("page.calendar")),
      h(
        "div",
        { class: "filters" },
        h("button", { id: "prev-week", onclick: () => ((offsetWeeks -= 1), render()) }, t("cal.prev")),
        h("strong", { id: "week-label" }, `${fmt.date(start)} – ${fmt.date(start + 6 * DAY)}`),
        h("button", { id: "next-week", onclick: () => ((offsetWeeks += 1), render()) }, t("cal.next")),
      ),
      section("", h("div", { class: "calendar" }, cols), inWeek.length ? null : h("p", { class: "muted", id: "no-planned" }, t("cal.none"))),
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return needToken(t("page.calendar"), render, err);
    mount(h("h1", {}, t("page.calendar")), errorBox(err));
  }
  document.body.dataset.ready = "1";
}

render();
live(() => render(), { topics: "order" });
