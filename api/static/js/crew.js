// The crew's phone page: my orders; acknowledge / start / resolve with a note in a few taps.
import { ApiError, api, badge, clearToken, errorBox, fmt, h, mount, token, tokenForm } from "./common.js";

// what a crew member may do from each state, in the order the buttons are shown
const ACTIONS = [
  { to: "acknowledged", label: "Acknowledge", cls: "primary" },
  { to: "in_progress", label: "Start work", cls: "primary" },
  { to: "resolved", label: "Resolve", cls: "primary", note: "What was done? (required)" },
  { to: "rejected", label: "Reject", cls: "danger", note: "Why can't your crew take it? (required)" },
];
const DONE = new Set(["resolved", "verified", "closed", "cancelled", "rejected"]);
let showDone = false;
let notice = null;

function due(o) {
  const s = o.sla;
  if (["assigned", "created", "reopened"].includes(o.state)) {
    return h("span", { class: s.response_breached ? "late" : "" }, `respond by ${fmt.time(s.respond_due)} (${fmt.ago(s.respond_due)})`);
  }
  if (DONE.has(o.state)) return h("span", { class: "muted" }, fmt.label(o.state));
  return h("span", { class: s.resolution_breached ? "late" : "" }, `resolve by ${fmt.time(s.resolve_due)} (${fmt.ago(s.resolve_due)})`);
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
    notice = { ok: true, text: `Order #${order.id}: ${fmt.label(updated.state)}` };
  } catch (err) {
    notice = { ok: false, text: err instanceof ApiError && err.status === 409 ? `Order #${order.id} changed meanwhile: ${err.message}` : `Order #${order.id}: ${err.message}` };
  }
  await render();
}

function orderCard(o) {
  const actions = ACTIONS.filter((a) => o.allowed.includes(a.to));
  const needsNote = actions.some((a) => a.note);
  const noteEl = needsNote
    ? h("textarea", { class: "note", rows: 2, placeholder: "Note (needed to resolve or reject)", "aria-label": `note for order ${o.id}` })
    : null;
  const card = h(
    "article",
    { class: `card order prio-${o.priority}`, dataset: { order: o.id, state: o.state } },
    h("div", { class: "order-head" }, badge(o.priority, "prio"), " ", badge(o.state), h("span", { class: "muted" }, ` #${o.id}`)),
    h("h3", {}, o.title),
    h("p", {}, h("a", { href: `/assets/${encodeURIComponent(o.asset_id)}` }, o.asset_id), " · ", fmt.label(o.type), o.fault_code ? ` · ${fmt.label(o.fault_code)}` : ""),
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
          h("button", { class: `big ${a.cls}`, dataset: { action: a.to }, onclick: () => act(o, a, a.note ? noteEl : null, card) }, a.label),
        ),
      ),
    );
  }
  return card;
}

async function render() {
  if (!token()) {
    mount(h("h1", {}, "My work orders"), tokenForm(render, "Enter your crew API token once; this phone remembers it."));
    document.body.dataset.ready = "1";
    return;
  }
  try {
    const orders = await api("/orders?limit=200");
    const mine = orders.filter((o) => showDone || !DONE.has(o.state));
    mine.sort((a, b) => a.priority.localeCompare(b.priority) || a.opened_at.localeCompare(b.opened_at));
    mount(
      h("h1", {}, "My work orders"),
      notice ? h("p", { class: notice.ok ? "notice" : "error", role: "status" }, notice.text) : null,
      h(
        "div",
        { class: "filters" },
        h("button", { class: "big", id: "refresh", onclick: () => ((notice = null), render()) }, "Refresh"),
        h("button", { class: "big", id: "toggle-done", onclick: () => ((showDone = !showDone), render()) }, showDone ? "Hide finished" : "Show finished"),
      ),
      mine.length ? h("div", { class: "orders" }, mine.map(orderCard)) : h("p", { class: "muted", id: "no-orders" }, "No open orders for your crew."),
      h("p", { class: "small" }, h("button", { class: "link", onclick: () => (clearToken(), render()) }, "Sign out (forget token)")),
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      clearToken();
      mount(h("h1", {}, "My work orders"), errorBox(err), tokenForm(render, "That token was refused. Enter a valid crew token."));
    } else {
      mount(h("h1", {}, "My work orders"), errorBox(err));
    }
  }
  document.body.dataset.ready = "1";
}

render();
setInterval(() => {
  if (!document.querySelector("textarea.note:focus") && !document.querySelector("#token-input")) render();
}, 60_000);
