// The sign-in page: POST /api/v1/session/login with the name and password; the server sets the session
// cookie (HttpOnly) and the fm_csrf cookie; then go back where the person came from (?next=, same site
// only) or to their start page (crews: /crew).
const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");

function nextPage(role) {
  const next = new URLSearchParams(location.search).get("next") || "";
  // only a path on this site: "/orders?x=1", never "//evil.example" or "https://…"
  if (next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\")) return next;
  return role === "crew" ? "/crew" : "/";
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  errorBox.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const r = await fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ name: form.elements.name.value, password: form.elements.password.value }),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const d = data.detail;
      showError(Array.isArray(d) ? d.map((e) => e.msg).join("; ") : String(d || r.status));
      return;
    }
    location.assign(nextPage(data.role));
  } catch (err) {
    showError(String(err));
  } finally {
    button.disabled = false;
  }
});
document.body.dataset.ready = "1";
