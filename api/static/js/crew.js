// The crew's phone page: a card per order — what, where, when (local time), why in plain words, the
// checklist, notes (a draft is kept on the phone while typing and never overwritten by an update), photos —
// and acknowledge / start / resolve in a few taps. Finished orders: newest first.
import { ApiError, api, apiUpload, badge, fmt, h, live, mount, needToken, signOut, t, tr } from "./common.js";

// what a crew member may do from each state, in the order the buttons are shown
const ACTIONS = [
  { to: "acknowledged", label: "crew.ack", cls: "primary" },
  { to: "in_progress", label: "crew.start", cls: "primary" },
  { to: "resolved", label: "crew.resolve", cls: "primary", note: "crew.note_resolve" },
  { to: "rejected", label: "crew.reject", cls: "danger", note: "crew.note_reject" },
];
const DONE = new Set(["resolved", "verified", "closed", "cancelled", "rejected"]);
const PHOTO_MAX_PX = 1600;
let showDone = false;
let notice = null;

const draftKey = (id) => `facility.draft.${id}`;
const draft = {
  get: (id) => localStorage.getItem(draftKey(id)) || "",
  set: (id, v) => (v ? localStorage.setItem(draftKey(id), v) : localStorage.removeItem(draftKey(id))),
};

function due(o) {
  const s = o.sla;
  if (["assigned", "created", "reopened"].includes(o.state)) {
    return h("span", { class: s.response_breached ? "late" : "" }, t("crew.respond_by", { time: fmt.time(s.respond_due), rel: fmt.ago(s.respond_due) }));
  }
  if (DONE.has(o.state)) return h("span", { class: "muted" }, tr("order.state", o.state));
  return h("span", { class: s.resolution_breached ? "late" : "" }, t("crew.resolve_by", { time: fmt.time(s.resolve_due), rel: fmt.ago(s.resolve_due) }));
}

// why, in plain words: the fault the asset reported, the forecast, the resident's report, the routine
function why(o) {
  if (o.type === "preventive") return t("crew.why_preventive");
  if (o.type === "inspection") return t("crew.why_inspection");
  if (o.fault_code) return t("crew.why_fault", { code: tr("code", o.fault_code) });
  return o.type === "resident_report" ? `${t("crew.why_report")} ${o.description || ""}`.trim() : o.description || "—";
}

function where(o) {
  return [o.estate_name || o.estate_id, o.building_name || o.building, o.floor !== null && o.floor !== undefined ? t("crew.floor", { n: o.floor }) : null, o.location || null]
    .filter(Boolean)
    .join(" · ");
}

function when(o) {
  // the planned start (and its end when the order carries a window)
  if (o.scheduled_for && o.window_end) return t("crew.window", { a: fmt.time(o.scheduled_for), b: fmt.time(o.window_end) });
  if (o.scheduled_for) return t("crew.planned", { a: fmt.time(o.scheduled_for) });
  return t("crew.unscheduled");
}

async function act(order, action, noteEl, card) {
  const note = noteEl ? noteEl.value.trim() : "";
  if (action.note && !note) {
    noteEl.classList.add("invalid");
    noteEl.placeholder = t(action.note);
    noteEl.focus();
    return;
  }
  for (const b of card.querySelectorAll("button")) b.disabled = true;
  try {
    const updated = await api(`/orders/${order.id}/transitions`, { method: "POST", body: { to: action.to, note, version: order.version } });
    if (action.note) draft.set(order.id, "");
    notice = { ok: true, text: t("action.done", { id: order.id, what: tr("order.state", updated.state) }) };
  } catch (err) {
    notice = { ok: false, text: err instanceof ApiError && err.status === 409 ? t("action.conflict", { id: order.id, msg: err.message }) : t("action.done", { id: order.id, what: err.message }) };
  }
  await render();
}

function checklist(o, items) {
  const list = h(
    "ul",
    { class: "checklist" },
    items.map((c) =>
      h(
        "li",
        {},
        h(
          "label",
          {},
          h("input", {
            type: "checkbox",
            checked: c.done,
            dataset: { item: c.item },
            onchange: (e) => api(`/orders/${o.id}/checklist`, { method: "PUT", body: { item: c.item, done: e.target.checked } }).catch((err) => alert(err.message)),
          }),
          " ",
          c.item.startsWith("check.") ? t(c.item) : c.item,
        ),
      ),
    ),
  );
  const add = h("input", { type: "text", maxlength: 200, placeholder: t("crew.checklist_add"), "aria-label": t("crew.checklist_add") });
  const form = h(
    "form",
    {
      class: "inline",
      onsubmit: async (e) => {
        e.preventDefault();
        if (!add.value.trim()) return;
        await api(`/orders/${o.id}/checklist`, { method: "PUT", body: { item: add.value.trim(), done: false } });
        await render();
      },
    },
    add,
    h("button", { type: "submit" }, "+"),
  );
  const done = items.filter((c) => c.done).length;
  return h("details", { class: "check", open: !DONE.has(o.state) }, h("summary", {}, `${t("order.checklist")} · ${t("crew.check_saved", { n: done, total: items.length })}`), list, form);
}

// a photo from the camera, made smaller on the phone before it is sent (slow links)
async function sendPhoto(o, file) {
  let blob = file;
  try {
    const img = await createImageBitmap(file);
    const scale = Math.min(1, PHOTO_MAX_PX / Math.max(img.width, img.height));
    const canvas = h("canvas", { width: Math.round(img.width * scale), height: Math.round(img.height * scale) });
    canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
    blob = await new Promise((res) => canvas.toBlob(res, "image/jpeg", 0.8));
  } catch {
    // not decodable here: send as is, the API checks it
  }
  try {
    await apiUpload(`/orders/${o.id}/photos`, blob, blob.type || "image/jpeg");
    notice = { ok: true, text: t("action.done", { id: o.id, what: t("crew.uploaded") }) };
  } catch (err) {
    notice = { ok: false, text: t("action.done", { id: o.id, what: err.message }) };
  }
  await render();
}

function orderCard(o, card) {
  const actions = ACTIONS.filter((a) => o.allowed.includes(a.to));
  const open = !DONE.has(o.state);
  const noteEl = open
    ? h("textarea", {
        class: "note",
        rows: 3,
        placeholder: t("crew.note_placeholder"),
        "aria-label": t("crew.note_placeholder"),
        oninput: (e) => draft.set(o.id, e.target.value),
      })
    : null;
  if (noteEl) noteEl.value = draft.get(o.id); // the draft survives refreshes and updates
  const notes = (card?.notes || []).filter((n) => n.kind === "note");
  const el = h(
    "article",
    { class: `card order prio-${o.priority}`, dataset: { order: o.id, state: o.state } },
    h("div", { class: "order-head" }, badge(o.priority, "prio"), " ", badge(o.state), h("span", { class: "muted" }, ` #${o.id}`)),
    h("h3", {}, o.title),
    h(
      "dl",
      { class: "card-facts" },
      h("dt", {}, t("crew.what")),
      h("dd", { class: "what" }, `${tr("order.type", o.type)} · ${tr("kind", o.kind)} `, h("a", { href: `/assets/${encodeURIComponent(o.asset_id)}` }, o.asset_id)),
      h("dt", {}, t("crew.where")),
      h("dd", { class: "where" }, where(o)),
      h("dt", {}, t("crew.when")),
      h("dd", { class: "when" }, when(o)),
      h("dt", {}, t("crew.why")),
      h("dd", { class: "why pre" }, why(o)),
    ),
    h("p", { class: "due" }, due(o)),
    card ? checklist(o, card.checklist) : null,
    notes.length
      ? h("div", { class: "saved-notes" }, notes.map((n) => h("p", { class: "pre small" }, h("span", { class: "muted" }, `${fmt.time(n.at)} `), n.text)))
      : null,
    noteEl,
  );
  if (open) {
    const file = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", capture: "environment", class: "photo-input", onchange: (e) => e.target.files[0] && sendPhoto(o, e.target.files[0]) });
    el.append(
      h(
        "div",
        { class: "actions" },
        actions.map((a) => h("button", { class: `big ${a.cls}`, dataset: { action: a.to }, onclick: () => act(o, a, a.note ? noteEl : null, el) }, t(a.label))),
        h("button", {
          class: "big",
          dataset: { action: "note" },
          onclick: async () => {
            if (!noteEl.value.trim()) return noteEl.focus();
            await api(`/orders/${o.id}/notes`, { method: "POST", body: { text: noteEl.value.trim() } });
            draft.set(o.id, "");
            await render();
          },
        }, t("crew.save_note")),
        h("label", { class: "big button-like" }, t("crew.photo"), file),
      ),
    );
    if (card?.photos.length) el.append(h("p", { class: "muted small photos-count" }, t("crew.photos_n", { n: card.photos.length })));
  }
  return el;
}

const finishedAt = (o) => (o.transitions.length ? o.transitions[o.transitions.length - 1].at : o.opened_at);

async function render() {
  if (needToken(t("page.crew"), render, null, t("token.hint_crew"))) return;
  try {
    const orders = await api("/orders?limit=200");
    const open = orders.filter((o) => !DONE.has(o.state));
    open.sort((a, b) => a.priority.localeCompare(b.priority) || (a.scheduled_for || a.opened_at).localeCompare(b.scheduled_for || b.opened_at));
    const done = showDone ? orders.filter((o) => DONE.has(o.state)).sort((a, b) => finishedAt(b).localeCompare(finishedAt(a))) : [];
    const mine = [...open, ...done];
    const cards = await Promise.all(open.map((o) => api(`/orders/${o.id}/card`).catch(() => null)));
    const byId = Object.fromEntries(open.map((o, i) => [o.id, cards[i]]));
    mount(
      h("h1", {}, t("page.crew")),
      notice ? h("p", { class: notice.ok ? "notice" : "error", role: "status" }, notice.text) : null,
      h(
        "div",
        { class: "filters" },
        h("button", { class: "big", id: "refresh", onclick: () => ((notice = null), render()) }, t("common.refresh")),
        h("button", { class: "big", id: "toggle-done", onclick: () => ((showDone = !showDone), render()) }, showDone ? t("crew.hide_done") : t("crew.show_done")),
      ),
      mine.length ? h("div", { class: "orders" }, mine.map((o) => orderCard(o, byId[o.id]))) : h("p", { class: "muted", id: "no-orders" }, t("crew.no_orders")),
      h("p", { class: "small" }, h("button", { class: "link", id: "sign-out", onclick: () => signOut(render) }, t("token.signout"))),
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return needToken(t("page.crew"), render, err, t("token.refused"));
    mount(h("h1", {}, t("page.crew")), h("p", { class: "error", role: "alert" }, `${err.status || ""} ${err.message}`));
  }
  document.body.dataset.ready = "1";
}

render();
live(
  () => {
    if (!document.querySelector("#token-input")) render();
  },
  { topics: "order" },
);
