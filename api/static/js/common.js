// Shared helpers for the built-in pages: messages (zh-CN / en), API calls with the bearer token, DOM
// building, formatting in the estate's time zone (never UTC on a page).
export const API = "/api/v1";
const TOKEN_KEY = "facility.token";
export const config = JSON.parse(document.getElementById("facility-config").textContent);
export const lang = config.lang || "zh";
export const TZ = config.tz || "Asia/Shanghai";
const LOCALE = lang === "zh" ? "zh-CN" : "en-GB";

// The message catalogue of this language (facility/locale, served as JSON by api/routes/pages.py).
// With a session, who is signed in comes alongside: a crew member's header keeps only the crew's links
// (those marked data-crew by the shell), and the brand leads to the crew page.
const [messages, me] = await Promise.all([
  fetch(`/i18n/${lang}.json`).then((r) => (r.ok ? r.json() : {})),
  config.session ? fetch(`${API}/session/me`, { headers: { Accept: "application/json" } }).then((r) => (r.ok ? r.json() : null)).catch(() => null) : null,
]);
if (me && me.role === "crew") {
  for (const a of document.querySelectorAll("header.top nav a:not([data-crew])")) a.remove();
  const brand = document.querySelector("header.top .brand");
  if (brand) brand.setAttribute("href", "/crew");
}

// t("order.state.assigned") → "已派单"; t("page.order", {id: 3}) fills {id}. Unknown keys come back as is.
export function t(key, params = null) {
  let text = key in messages ? messages[key] : key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return text;
}

// A code's label from the first catalogue prefix that knows it: tr(["order.state", "asset.state"], "offline")
export function tr(prefixes, value) {
  if (value === null || value === undefined || value === "") return "—";
  for (const p of [].concat(prefixes)) {
    const key = `${p}.${value}`;
    if (key in messages) return messages[key];
  }
  return String(value).replaceAll("_", " ");
}

// A telemetry field's name from the contract (zh/en), e.g. fieldLabel("water_pump", "flow_m3h") → "流量"
export function fieldLabel(kind, name) {
  return t(`field.${kind}.${name}`) === `field.${kind}.${name}` ? String(name).replaceAll("_", " ") : t(`field.${kind}.${name}`);
}

// ?token=... (the demo link) is stored once and removed from the address bar.
(function takeTokenFromUrl() {
  const params = new URLSearchParams(location.search);
  const t = params.get("token");
  if (t) {
    localStorage.setItem(TOKEN_KEY, t.trim());
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
  }
})();

export function token() {
  return localStorage.getItem(TOKEN_KEY) || "";
}
export function setToken(value) {
  localStorage.setItem(TOKEN_KEY, value.trim());
}
export function clearToken() {
  localStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function detailText(data) {
  if (data && typeof data === "object" && "detail" in data) {
    const d = data.detail;
    if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
    return String(d);
  }
  return typeof data === "string" ? data.slice(0, 300) : "request failed";
}

// true once an API call succeeded: the live stream connects only then (never a 401 before sign-in)
let signedIn = false;

// Every read of the API needs a token (any role); it is sent whenever one is stored.
export async function api(path, { method = "GET", body, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  else if (auth && !config.session) throw new ApiError(401, t("token.missing"));
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") Object.assign(headers, csrfHeader());
  const r = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const isJson = (r.headers.get("content-type") || "").includes("json");
  const data = isJson ? await r.json() : await r.text();
  if (!r.ok) throw new ApiError(r.status, detailText(data));
  signedIn = true;
  return data;
}

// A signed-in person's changes carry the session's CSRF token (the fm_csrf cookie, readable by design).
export function csrfHeader() {
  const m = document.cookie.match(/(?:^|;\s*)fm_csrf=([^;]+)/);
  return m ? { "X-CSRF-Token": decodeURIComponent(m[1]) } : {};
}

// POST raw bytes (a photo) with the same credentials as api()
export async function apiUpload(path, blob, contentType) {
  const headers = { Accept: "application/json", "Content-Type": contentType, ...csrfHeader() };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const r = await fetch(API + path, { method: "POST", headers, body: blob });
  const data = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new ApiError(r.status, detailText(data));
  return data;
}

// Which endpoints this server has (capabilities land at different times): ask the OpenAPI document
// once instead of probing, so a missing endpoint is a message on the page, not a failed request.
let pathsPromise = null;
export async function hasEndpoint(template) {
  // the page shell says whether the endpoints pages commonly adapt to exist (no OpenAPI download)
  if ((config.endpoints_checked || []).includes(template) && (config.endpoints || []).length) return config.endpoints.includes(template);
  pathsPromise ??= fetch(`${API}/openapi.json`)
    .then((r) => (r.ok ? r.json() : { paths: {} }))
    .then((doc) => new Set(Object.keys(doc.paths || {})));
  return (await pathsPromise).has(API + template);
}

// h("div", {class: "x", onclick: fn}, "text", child) — text is always inserted as text, never as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function mount(...children) {
  const app = document.getElementById("app");
  app.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
  if (lastNotice) notice(lastNotice.text, lastNotice.ok); // a re-render (e.g. a live update) keeps it
  return app;
}

// Parts of a time in the display time zone: {y, mo, d, h, mi, wd} (wd 0 = Monday)
export function localParts(ts) {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", weekday: "short", hourCycle: "h23",
  }).formatToParts(new Date(ts));
  const get = (type) => parts.find((p) => p.type === type)?.value;
  const wd = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(get("weekday"));
  return { y: +get("year"), mo: +get("month"), d: +get("day"), h: +get("hour"), mi: +get("minute"), wd };
}

const pad2 = (n) => String(n).padStart(2, "0");

export const fmt = {
  // "2026-11-23 17:05" in the estate's time zone
  time(ts) {
    if (!ts) return "—";
    const p = localParts(ts);
    return `${p.y}-${pad2(p.mo)}-${pad2(p.d)} ${pad2(p.h)}:${pad2(p.mi)}`;
  },
  date(ts) {
    if (!ts) return "—";
    const p = localParts(ts);
    return `${p.y}-${pad2(p.mo)}-${pad2(p.d)}`;
  },
  clock(ts) {
    const p = localParts(ts);
    return `${pad2(p.h)}:${pad2(p.mi)}`;
  },
  ago(ts) {
    if (!ts) return t("common.never");
    const s = Math.round((Date.now() - new Date(ts).getTime()) / 1000);
    if (s < 0) return t("common.in", { d: fmt.duration(-s) });
    return t("common.ago", { d: fmt.duration(s) });
  },
  duration(s) {
    if (s < 90) return t("dur.s", { n: s });
    if (s < 5400) return t("dur.min", { n: Math.round(s / 60) });
    if (s < 172800) return t("dur.h", { n: Math.round(s / 3600) });
    return t("dur.d", { n: Math.round(s / 86400) });
  },
  num(v, digits = 2) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    return Number.isInteger(v) ? String(v) : Number(v).toFixed(digits);
  },
  pct(v) {
    return v === null || v === undefined ? "—" : `${(100 * v).toFixed(1)}%`;
  },
  label(s) {
    return String(s).replaceAll("_", " ");
  },
};

const BADGE_PREFIXES = { state: ["order.state", "asset.state"], prio: ["priority"], event: ["event.type"] };

// A coloured label of a state, priority or event type, in the page's language; data-value keeps the code.
export function badge(value, kind = "state") {
  const cls = String(value).replace(/[^a-z0-9_-]/gi, "");
  return h("span", { class: `badge ${kind}-${cls}`, dataset: { value } }, tr(BADGE_PREFIXES[kind] || [], value));
}

export function errorBox(err) {
  const msg = err instanceof ApiError ? `${err.status}: ${err.message}` : String(err.message || err);
  return h("p", { class: "error", role: "alert" }, msg);
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

export function table(headers, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows)),
  );
}

// Signed in (a session cookie came with the page) or holding an API token (machines, demo links)?
export function hasCredentials() {
  return Boolean(token() || config.session);
}

// The way in when the page has no credentials (or they were refused): sign in with name and password, or
// paste an API token. Returns true when it took over the page.
export function needToken(title, onSaved, refused = null, hint = null) {
  if (refused) {
    clearToken();
    config.session = false;
  }
  if (hasCredentials()) return false;
  mount(h("h1", {}, title), refused ? errorBox(refused) : null, signIn(), tokenForm(onSaved, hint || (refused ? t("token.refused") : t("token.hint"))));
  document.body.dataset.ready = "1";
  return true;
}

// A link to the sign-in page that comes back here afterwards
export function signIn() {
  if (!(config.endpoints || []).includes("/session/login")) return null;
  const next = encodeURIComponent(location.pathname + location.search);
  return h("p", { class: "sign-in" }, h("a", { class: "button-like big primary", href: `/login?next=${next}`, id: "sign-in" }, t("signin.link")), " ", h("span", { class: "muted" }, t("signin.or_token")));
}

// Forget the token and end the session (if any), then show the way in again
export async function signOut(after) {
  clearToken();
  if (config.session) {
    await fetch("/api/v1/session/logout", { method: "POST", headers: csrfHeader() }).catch(() => null);
    config.session = false;
  }
  after();
}

// A small token form used by the pages that need an API token.
export function tokenForm(onSaved, hint = t("token.hint")) {
  const input = h("input", {
    type: "password",
    id: "token-input",
    autocomplete: "off",
    placeholder: "fm_…",
    "aria-label": t("token.label"),
  });
  const form = h(
    "form",
    {
      class: "token-form",
      onsubmit: (e) => {
        e.preventDefault();
        if (input.value.trim()) {
          setToken(input.value);
          onSaved();
        }
      },
    },
    h("label", { for: "token-input" }, hint),
    input,
    h("button", { type: "submit", class: "big primary" }, t("token.save")),
  );
  return form;
}

// Live updates: read the API's Server-Sent Events stream (GET /api/v1/stream) and call onChange (debounced)
// for each event; a slow poll only when the server has no stream or it keeps failing. fetch() reads the
// stream so the same credentials as every API call go with it. onChange is skipped while someone types.
export const liveState = { mode: "off", events: 0 };

export function live(onChange, { pollMs = 60_000, debounceMs = 1_000, topics = "order,alarm,freshness" } = {}) {
  const started = performance.now();
  let timer = null;
  const typing = () => {
    const el = document.activeElement;
    // text being typed (a focused select or checkbox is not: a re-render does not lose anything there)
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(el.type)));
  };
  const fire = (ev) => {
    clearTimeout(timer);
    timer = setTimeout(function run() {
      if (typing()) timer = setTimeout(run, 2_000);
      else onChange(ev);
    }, debounceMs);
  };
  const poll = () => {
    liveState.mode = "poll";
    document.body.dataset.live = "poll";
    setInterval(() => fire(null), pollMs);
  };
  (async () => {
    if (!(await hasEndpoint("/stream"))) return poll();
    // without credentials yet (the sign-in form is showing), wait for the first successful API call
    while (!hasCredentials() && !signedIn) await new Promise((res) => setTimeout(res, 500));
    let failures = 0;
    while (failures < 3) {
      while (!hasCredentials() && !signedIn) await new Promise((res) => setTimeout(res, 500));
      try {
        const headers = { Accept: "text/event-stream" };
        if (token()) headers.Authorization = `Bearer ${token()}`;
        const r = await fetch(`${API}/stream?topics=${topics}`, { headers });
        if (!r.ok || !r.body) throw new Error(`stream: HTTP ${r.status}`);
        liveState.mode = "stream";
        document.body.dataset.live = "stream";
        failures = 0;
        // the stream starts at the newest change: what changed since the page loaded it is fetched once
        if (performance.now() - started > 1_500) fire(null);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const ev = { event: "message", data: "" };
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) ev.event = line.slice(6).trim();
              else if (line.startsWith("data:")) ev.data += line.slice(5).trim();
            }
            if (block.split("\n").every((l) => l.startsWith(":"))) continue; // keep-alive comment
            liveState.events += 1;
            fire(ev);
          }
        }
      } catch {
        failures += 1;
      }
      await new Promise((res) => setTimeout(res, 3_000 * failures));
    }
    poll();
  })();
}

// A CSV file of rows (arrays) downloaded in the browser, with a BOM so spreadsheet programs read UTF-8.
export function downloadCsv(filename, header, rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n;]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const text = [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n");
  const url = URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/csv;charset=utf-8" }));
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

// <input type="datetime-local"> values are in the display time zone: "2026-12-01T09:00" ↔ an ISO instant.
export function isoToLocalInput(ts) {
  if (!ts) return "";
  const p = localParts(ts);
  return `${p.y}-${pad2(p.mo)}-${pad2(p.d)}T${pad2(p.h)}:${pad2(p.mi)}`;
}
export function localInputToIso(value) {
  if (!value) return null;
  const [date, time] = value.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [hh, mi] = time.split(":").map(Number);
  const wanted = Date.UTC(y, mo - 1, d, hh, mi);
  let guess = wanted;
  for (let i = 0; i < 2; i++) {
    const p = localParts(guess);
    guess += wanted - Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi);
  }
  return new Date(guess).toISOString();
}

// A message above the page's content after an action (ok or error), kept until the next action.
let lastNotice = null;

export function notice(text, ok = true) {
  lastNotice = { text, ok };
  let el = document.getElementById("notice");
  if (!el) {
    el = h("p", { id: "notice", role: "status" });
    const app = document.getElementById("app");
    const title = app.querySelector("h1");
    if (title) title.after(el);
    else app.prepend(el);
  }
  el.className = ok ? "notice" : "error";
  el.textContent = text;
  return el;
}

// The result of an order action in words: "工单 #3：已批准" or why it failed.
export function actionMessage(orderId, what, err = null) {
  if (!err) return t("action.done", { id: orderId, what: t(`action.${what}`) });
  if (err instanceof ApiError && err.status === 409) return t("action.conflict", { id: orderId, msg: err.message });
  return t("action.done", { id: orderId, what: err.message });
}
