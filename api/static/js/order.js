// One order: what and where, SLA clocks, its timeline (state changes and notes), notes, photos, the
// engineer's actions (approve/decline a proposal; reschedule, reassign, cancel an open order).
import {
  ApiError, actionMessage, api, badge, config, errorBox, fmt, h, hasEndpoint, isoToLocalInput, live, localInputToIso, mount,
  needToken, notice, section, t, table, tr,
} from "./common.js";

const id = config.order;
const OPEN = new Set(["created", "assigned", "acknowledged", "in_progress", "rejected", "reopened"]);
const PLANNED = new Set(["preventive", "inspection"]);

// a proposal: planned work still waiting in "created" for an engineer's approval
const isProposal = (o) => o.state === "created" && PLANNED.has(o.type);

// a proposal has no response clock before approval: only its planned completion (the end of its window)
function slaSection(o) {
  const s = o.sla;
  const clock = (label, due, took, unit, breached) =>
    h(
      "div",
      { class: `kpi ${breached ? "bad" : "ok"}`, dataset: { clock: label } },
      h("div", { class: "kpi-value" }, took === null ? fmt.time(due) : `${fmt.num(took, 1)} ${unit}`),
      h("div", { class: "kpi-label" }, `${t(`order.${label}`)} · ${breached ? t("order.breached") : t("order.on_time")}`),
    );
  return section(
    t("order.sla"),
    h(
      "div",
      { class: "kpis", id: "sla" },
      isProposal(o) ? null : clock("respond_due", s.respond_due, s.response_minutes, t("dur.min", { n: "" }).trim(), s.response_breached),
      clock(isProposal(o) ? "planned_due" : "resolve_due", s.resolve_due, s.resolution_hours, t("dur.h", { n: "" }).trim(), s.resolution_breached),
    ),
  );
}

// the system's own notes ("approved", "declined: …") in the page's language; people's notes as written
// "superseded by #86: fault door_fault" (maintenance/preventive.py superseded_note): the reason and a link
const SUPERSEDED = /^superseded by #(\d+): fault (\S+)$/;

function noteText(note) {
  if (!note) return "";
  if (note.startsWith("declined: ")) return t("note.declined", { reason: note.slice(10) });
  const sup = SUPERSEDED.exec(note);
  if (sup) {
    return h("span", { dataset: { superseded: sup[1] } }, t("note.superseded", { order: sup[1], code: tr("code", sup[2]) }), " ", h("a", { href: `/orders/${sup[1]}` }, t("order.open_order", { id: sup[1] })));
  }
  return t(`note.${note}`) === `note.${note}` ? note : t(`note.${note}`);
}

// only a preventive proposal awaits approval; any other order's first step is just "created"
function stepBadge(o, state) {
  if (state !== "created" || o.type === "preventive") return badge(state);
  return h("span", { class: "badge state-created", dataset: { value: state } }, t("order.step.created"));
}

// the system's own actors in words (planner, system:events, …); people's names as they are
function actorName(who) {
  if (!who) return "";
  const own = t(`actor.${who}`);
  if (own !== `actor.${who}`) return own;
  return who.startsWith("system:") ? t("actor.system") : who;
}

function timeline(o, card) {
  const rows = [
    ...o.transitions.map((x) => ({ at: x.at, who: x.actor, what: stepBadge(o, x.to_state), note: x.note, crew: x.crew_id })),
    ...card.notes.map((n) => ({ at: n.at, who: n.actor, what: h("span", { class: "badge" }, t(n.kind === "note" ? "order.notes" : `action.${n.kind === "reschedule" ? "rescheduled" : n.kind}`)), note: n.text })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  return section(
    t("order.timeline"),
    table(
      [t("col.time"), t("col.state"), t("col.actor"), t("col.note")],
      rows.map((r) => h("tr", {}, h("td", {}, fmt.time(r.at)), h("td", {}, r.what, r.crew ? ` → ${r.crew}` : ""), h("td", { dataset: { actor: r.who || "" } }, actorName(r.who)), h("td", { class: "pre" }, noteText(r.note)))),
    ),
  );
}

async function act(what, path, body) {
  try {
    await api(`/orders/${id}/${path}`, { method: "POST", body });
    await render();
    notice(actionMessage(id, what));
  } catch (err) {
    notice(actionMessage(id, what, err), false);
  }
}

function actions(o, crews) {
  if (!OPEN.has(o.state)) return null;
  const crew = h("select", { name: "crew", "aria-label": t("action.crew") }, crews.map((c) => h("option", { value: c.id, selected: c.id === (o.crew_id || o.suggested_crew) }, `${c.name} (${c.id})`)));
  const when = h("input", { type: "datetime-local", name: "when", value: isoToLocalInput(o.scheduled_for), "aria-label": t("action.when") });
  const reason = h("input", { type: "text", name: "reason", placeholder: t("action.reason"), "aria-label": t("action.reason"), maxlength: 2000 });
  const need = (fn) => () => (reason.value.trim() ? fn(reason.value.trim()) : (reason.classList.add("invalid"), reason.focus()));
  const v = o.version;
  const buttons =
    o.state === "created"
      ? [
          h("button", { class: "primary", dataset: { action: "approve" }, onclick: () => act("approved", "approve", { crew_id: crew.value || null, scheduled_for: localInputToIso(when.value), version: v }) }, t("action.approve")),
          h("button", { class: "danger", dataset: { action: "decline" }, onclick: need((r) => act("declined", "decline", { reason: r, version: v })) }, t("action.decline")),
        ]
      : [
          h("button", { dataset: { action: "reassign" }, onclick: () => act("reassigned", "reassign", { crew_id: crew.value, note: reason.value.trim(), version: v }) }, t("action.reassign")),
          h("button", { dataset: { action: "reschedule" }, onclick: () => when.value && act("rescheduled", "reschedule", { scheduled_for: localInputToIso(when.value), note: reason.value.trim(), version: v }) }, t("action.reschedule")),
          h("button", { class: "danger", dataset: { action: "cancel" }, onclick: need((r) => act("cancelled", "cancel", { reason: r, version: v })) }, t("action.cancel")),
        ];
  return section(
    t("order.actions"),
    h("div", { class: "filters", id: "order-actions" }, h("label", { class: "filter" }, t("action.crew"), crew), h("label", { class: "filter" }, t("action.when"), when), reason, buttons),
  );
}

function notes(card) {
  const text = h("textarea", { id: "new-note", rows: 3, maxlength: 10000, "aria-label": t("action.add_note") });
  return section(
    t("order.notes"),
    h(
      "form",
      {
        class: "note-form",
        onsubmit: async (e) => {
          e.preventDefault();
          if (!text.value.trim()) return;
          try {
            await api(`/orders/${id}/notes`, { method: "POST", body: { text: text.value } });
            text.value = "";
            await render();
            notice(actionMessage(id, "noted"));
          } catch (err) {
            notice(actionMessage(id, "noted", err), false);
          }
        },
      },
      text,
      h("button", { type: "submit" }, t("action.add_note")),
    ),
    card.photos.length
      ? h("div", { class: "photos" }, card.photos.map((p) => h("span", { class: "photo muted small" }, h("a", { href: p.url, target: "_blank" }, `${t("order.photos")} #${p.id}`), ` ${fmt.time(p.at)} · ${p.actor} · ${Math.round(p.size / 1024)} KB`)))
      : null,
  );
}

// the alarms D's rules linked to this order (both ways): rule, severity, state, how often, since when
async function linkedAlarms() {
  if (!(await hasEndpoint("/alarm-rules"))) return null;
  const page = await api(`/alarms?order=${id}&limit=20`).catch(() => null);
  if (!page) return null;
  return section(
    t("order.alarms"),
    page.alarms.length
      ? table(
          [t("col.code"), t("col.state"), t("col.time"), ""],
          page.alarms.map((a) =>
            h("tr", { dataset: { alarm: a.id } }, h("td", {}, (a.rule_name && a.rule_name[config.lang || "zh"]) || tr("code", a.rule)), h("td", {}, `${t(`alarms.${a.severity}`)} · ${t(`alarms.${a.state}`)}`), h("td", {}, fmt.time(a.first_at)), h("td", {}, h("a", { href: `/alarms?asset=${encodeURIComponent(a.asset)}` }, `×${a.count}`))),
          ),
        )
      : h("p", { class: "muted" }, t("order.no_alarms")),
  );
}

// the description without the "awaiting approval" line older proposals stored; that line only while it is true
function description(o) {
  const waiting = t("plan.awaiting_approval");
  const text = (o.description || "").split("\n").filter((line) => line.trim() !== waiting).join("\n").trim();
  const lines = [text, isProposal(o) ? waiting : ""].filter(Boolean);
  return lines.length ? h("p", { class: "pre muted", id: "description" }, lines.join("\n")) : null;
}

async function render() {
  if (needToken(t("page.order", { id }), render)) return;
  try {
    const [o, card, crews, alarms] = await Promise.all([api(`/orders/${id}`), api(`/orders/${id}/card`), api("/crews").catch(() => []), linkedAlarms()]);
    mount(
      h("p", {}, h("a", { href: "/orders" }, `← ${t("page.orders")}`)),
      h("h1", {}, `#${o.id} ${o.title} `, badge(o.state), " ", badge(o.priority, "prio")),
      h(
        "div",
        { class: "two" },
        section(
          t("asset.facts"),
          h(
            "dl",
            { class: "facts", id: "facts" },
            ...[
              [t("col.asset"), h("a", { href: `/assets/${encodeURIComponent(o.asset_id)}` }, `${o.asset_id} (${tr("kind", o.kind)})`)],
              [t("asset.place"), `${o.estate_name || o.estate_id} / ${o.building_name || o.building}${o.floor !== null && o.floor !== undefined ? " · " + t("crew.floor", { n: o.floor }) : ""}`],
              [t("asset.location"), o.location || "—"],
              [t("col.type"), tr("order.type", o.type)],
              [t("col.crew"), o.crew_id || (isProposal(o) && o.suggested_crew ? t("order.planned_crew", { crew: o.suggested_crew }) : "—")],
              [t("col.scheduled"), fmt.time(o.scheduled_for)],
              [t("col.opened"), fmt.time(o.opened_at)],
              [t("order.linked"), h("span", {}, h("a", { href: `/assets/${encodeURIComponent(o.asset_id)}#forecast` }, t("order.forecast_link")), o.fault_code ? ` · ${t("order.alarm_link", { code: tr("code", o.fault_code) })}` : "")],
            ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
          ),
          description(o),
        ),
        slaSection(o),
      ),
      actions(o, crews),
      alarms,
      timeline(o, card),
      notes(card),
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return needToken(t("page.order", { id }), render, err);
    mount(h("h1", {}, t("page.order", { id })), errorBox(err));
  }
  document.body.dataset.ready = "1";
}

render();
live(() => render(), { topics: "order" });
