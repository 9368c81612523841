// Shared helpers for the built-in pages: API calls with the bearer token, DOM building, formatting.
export const API = "/api/v1";
const TOKEN_KEY = "facility.token";
export const config = JSON.parse(document.getElementById("facility-config").textContent);

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

// Every read of the API needs a token (any role); it is sent whenever one is stored.
export async function api(path, { method = "GET", body, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  else if (auth) throw new ApiError(401, "no API token: enter yours first");
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const isJson = (r.headers.get("content-type") || "").includes("json");
  const data = isJson ? await r.json() : await r.text();
  if (!r.ok) throw new ApiError(r.status, detailText(data));
  return data;
}

// Which endpoints this server has (capabilities land at different times): ask the OpenAPI document
// once instead of probing, so a missing endpoint is a message on the page, not a failed request.
let pathsPromise = null;
export async function hasEndpoint(template) {
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
  return app;
}

export const fmt = {
  time(ts) {
    if (!ts) return "—";
    const d = new Date(ts);
    return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  },
  ago(ts) {
    if (!ts) return "never";
    const s = Math.round((Date.now() - new Date(ts).getTime()) / 1000);
    if (s < 0) return `in ${fmt.duration(-s)}`;
    return `${fmt.duration(s)} ago`;
  },
  duration(s) {
    if (s < 90) return `${s} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    if (s < 172800) return `${Math.round(s / 3600)} h`;
    return `${Math.round(s / 86400)} d`;
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

export function badge(value, kind = "state") {
  return h("span", { class: `badge ${kind}-${String(value).replace(/[^a-z0-9_-]/gi, "")}` }, fmt.label(value));
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

// Show the token form instead of the page when no token is stored (or the stored one was refused).
export function needToken(title, onSaved, refused = null) {
  if (refused) clearToken();
  if (token()) return false;
  mount(
    h("h1", {}, title),
    refused ? errorBox(refused) : null,
    tokenForm(onSaved, refused ? "That token was refused. Enter a valid API token." : "Enter your API token once; this browser remembers it."),
  );
  document.body.dataset.ready = "1";
  return true;
}

// A small token form used by the pages that need an API token.
export function tokenForm(onSaved, hint = "Paste the API token you were given.") {
  const input = h("input", {
    type: "password",
    id: "token-input",
    autocomplete: "off",
    placeholder: "fm_…",
    "aria-label": "API token",
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
    h("button", { type: "submit", class: "big primary" }, "Save token"),
  );
  return form;
}
