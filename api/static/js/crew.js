// The crew's phone page: my orders; acknowledge / start / resolve with a note in a few taps.
import { ApiError, api, badge, clearToken, errorBox, fmt, h, live, mount, t, token, tokenForm, tr } from "./common.js";

// what a crew member may do from each state, in the order the buttons are shown
const ACTIONS = [
  { to: "acknowledged", label: "crew.ack", cls: "primary" },
  { to: "in_progress", label: "crew.start", cls: "primary" },
  { to: "resolved", label: "crew.resolve", cls: "primary", note: "crew.note_resolve" },
  { to: "rejected", label: "crew.reject", cls: "danger", note: "crew.note_reject" },
];
const DONE = new Set(["resolved", "verified", "closed", "cancelled", "rejected"]);
let showDone = false;
let notice = null;

function due(o) {
  const s = o.sla;
  if (["assigned", "created", "reopened"].includes(o.state)) {
    return h("span", { class: s.response_breached ? "late" : "" }, t("crew.respond_by", { time: fmt.time(s.respond_due), rel: fmt.ago(s.respond_due) }));
  }
  if (DONE.has(o.state)) return h("span", { class: "muted" }, tr("order.state", o.state));
  return h("span", { class: s.resolution_breached ? "late" : "" }, t("crew.resolve_by", { time: fmt.time(s.resolve_due), rel: fmt.ago(s.resolve_due) }));
}

async function act(order, action, noteEl, card) {
  const note = noteEl ? noteEl.value.trim() : "";
  if (action.note && !note) {
    noteEl.classList.add("invalid");
    noteEl.focus();
    return;
  }
  for (const b of card.querySelectorAll("button")) b.disabled = true;
  try {
    const updated = await api(`/orders/${order.id}/transitions`, {
      method: "POST",
      body: { to: action.to, note, version: order.version },
    });
    notice = { ok: true, text: t("action.done", { id: order.id, what: tr("order.state", updated.state) }) };
  } catch (err) {
    notice = { ok: false, text: err instanceof ApiError && err.status === 409 ? t("action.conflict", { id: order.id, msg: err.message }) : t("action.done", { id: order.id, what: err.message }) };
  }
  await render();
}

function orderCard(o) {
  const actions = ACTIONS.filter((a) => o.allowed.includes(a.to));
  const needsNote = actions.some((a) => a.note);
  const noteEl = needsNote
    ? h("textarea", { class: "note", rows: 2, placeholder: t("crew.note_placeholder"), "aria-label": t("crew.note_placeholder") })
    : null;
  const card = h(
    "article",
    { class: `card order prio-${o.priority}`, dataset: { order: o.id, state: o.state } },
    h("div", { class: "order-head" }, badge(o.priority, "prio"), " ", badge(o.state), h("span", { class: "muted" }, ` #${o.id}`)),
    h("h3", {}, o.title),
    h("p", {}, h("a", { href: `/assets/${encodeURIComponent(o.asset_id)}` }, o.asset_id), " · ", tr("order.type", o.type), o.fault_code ? ` · ${tr("code", o.fault_code)}` : ""),
    o.description ? h("p", { class: "muted" }, o.description) : null,
    h("p", { class: "due" }, due(o)),
    noteEl,
  );
  if (actions.length) {
    card.append(
      h(
        "div",
        { class: "actions" },
        actions.map((a) =>
          h("button", { class: `big ${a.cls}`, dataset: { action: a.to }, onclick: () => act(o, a, a.note ? noteEl : null, card) }, t(a.label)),
        ),
      ),
    );
  }
  return card;
}

async function render() {
  if (!token()) {
    mount(h("h1", {}, t("page.crew")), tokenForm(render, t("token.hint_crew")));
    document.body.dataset.ready = "1";
    return;
  }
  try {
    const orders = await api("/orders?limit=200");
    const mine = orders.filter((o) => showDone || !DONE.has(o.state));
    mine.sort((a, b) => a.priority.localeCompare(b.priority) || a.opened_at.localeCompare(b.opened_at));
    mount(
      h("h1", {}, t("page.crew")),
      notice ? h("p", { class: notice.ok ? "notice" : "error", role: "status" }, notice.text) : null,
      h(
        "div",
        { class: "filters" },
        h("button", { class: "big", id: "refresh", onclick: () => ((notice = null), render()) }, t("common.refresh")),
        h("button", { class: "big", id: "toggle-done", onclick: () => ((showDone = !showDone), render()) }, showDone ? t("crew.hide_done") : t("crew.show_done")),
      ),
      mine.length ? h("div", { class: "orders" }, mine.map(orderCard)) : h("p", { class: "muted", id: "no-orders" }, t("crew.no_orders")),
      h("p", { class: "small" }, h("button", { class: "link", onclick: () => (clearToken(), render()) }, t("token.signout"))),
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      clearToken();
      mount(h("h1", {}, t("page.crew")), errorBox(err), tokenForm(render, t("token.refused")));
    } else {
      mount(h("h1", {}, t("page.crew")), errorBox(err));
    }
  }
  document.body.dataset.ready = "1";
}

render();
live(() => {
  if (!document.querySelector("#token-input")) render();
});
