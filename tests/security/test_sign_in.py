"""Sign-in for people: argon2 passwords, sessions in the store (they survive a restart), cookies, CSRF on
changes, throttled guessing, tokens in URLs only for the iCal feed, and `facility users`."""

from __future__ import annotations

import argparse
import datetime as dt
import io
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.app import _to_login, create_app
from api.context import AppContext
from facility.cli import UserError
from maintenance import people, people_cli
from maintenance.people import User, UserSession
from maintenance.tokens import Role
from tests.maint_helpers import T0
from tests.security.conftest import PASSWORD, Site

pytestmark = pytest.mark.integration
LOGIN = "/api/v1/session/login"


def login(site: Site, name: str = "wang.gong", password: str = PASSWORD, **kw: object) -> TestClient:
    client = site.fresh_client()
    r = client.post(LOGIN, json={"name": name, "password": password}, **kw)  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    return client


# ------------------------------------------------------------------------------------------ the store


def test_people_rules_say_what_to_fix(site: Site) -> None:
    with site.db.transaction() as s:
        with pytest.raises(ValueError, match="use at least 10"):
            people.add_user(s, "short", "abc", Role.VIEWER, T0)
        with pytest.raises(ValueError, match="needs their crew"):
            people.add_user(s, "crewless", PASSWORD, Role.CREW, T0)
        with pytest.raises(ValueError, match="crew 'nope' does not exist"):
            people.add_user(s, "ghost", PASSWORD, Role.CREW, T0, crew_id="nope")
        with pytest.raises(ValueError, match="exists"):
            people.add_user(s, "wang.gong", PASSWORD, Role.VIEWER, T0)
        assert not people.ensure_user(s, "wang.gong", "another password", Role.ADMIN, T0)
        stored = s.scalars(sa.select(User).where(User.name == "wang.gong")).one()
    # argon2id, never the password itself; the existing person was left as they were
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    assert stored.role == "engineer"


def test_passwords_and_sessions(site: Site) -> None:
    with site.db.transaction() as s:
        assert people.ensure_user(s, "chen", "chen's long password", Role.SUPERVISOR, T0)
        assert people.check_password(s, "chen", "wrong password!") is None
        assert people.check_password(s, "nobody", "chen's long password") is None
        user = people.check_password(s, "chen", "chen's long password")
        assert user is not None and user.name == "chen"
        info = people.start_session(s, user, T0, dt.timedelta(hours=2))
        assert info.token and info.token.startswith("fs_")
        stored = s.get(UserSession, info.session_id)
        assert stored is not None and info.token not in stored.token_hash  # only its SHA-256 is kept
        live = people.resolve_session(s, info.token, T0 + dt.timedelta(hours=1))
        assert live is not None and live.principal.role is Role.SUPERVISOR and live.principal.name == "chen"
        assert people.resolve_session(s, info.token, T0 + dt.timedelta(hours=2)) is None  # expired
        assert people.resolve_session(s, "fm_" + info.token[3:], T0) is None  # a token is not a session
        assert people.csrf_matches(live, live.csrf_token) and not people.csrf_matches(live, "x")
        # a new password ends the open sessions; disabling ends them too and refuses the password
        people.set_password(s, "chen", "a new long password", T0)
        assert people.resolve_session(s, info.token, T0) is None
        again = people.start_session(s, user, T0, dt.timedelta(hours=2))
        assert people.disable_user(s, "chen", T0) == 1
        assert people.resolve_session(s, again.token or "", T0) is None
        assert people.check_password(s, "chen", "a new long password") is None


# ------------------------------------------------------------------------------------------ the API


def test_login_sets_a_session_cookie_and_a_csrf_cookie(site: Site) -> None:
    client = site.fresh_client()
    r = client.post(LOGIN, json={"name": "wang.gong", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["role"], body["via"]) == ("wang.gong", "engineer", "session")
    cookies = {}
    for header in r.headers.get_list("set-cookie"):
        c = SimpleCookie(header)
        for key, morsel in c.items():
            cookies[key] = (header.lower(), morsel)
    session_header, session = cookies["fm_session"]
    csrf_header, csrf = cookies["fm_csrf"]
    assert "httponly" in session_header and "samesite=lax" in session_header and "path=/" in session_header
    assert "secure" not in session_header  # plain http here; https below
    assert "httponly" not in csrf_header  # the pages' scripts read it
    assert csrf.value == body["csrf_token"] and session.value.startswith("fs_")
    assert int(session["max-age"]) == int(site.settings.session_hours * 3600)
    me = client.get("/api/v1/session/me").json()
    assert me["name"] == "wang.gong" and me["csrf_token"] == body["csrf_token"]
    # over https the cookies are Secure
    tls = TestClient(site.app, base_url="https://testserver")
    r = tls.post(LOGIN, json={"name": "wang.gong", "password": PASSWORD})
    assert all("secure" in h.lower() for h in r.headers.get_list("set-cookie"))


def test_wrong_password_is_one_message_in_the_readers_language(site: Site) -> None:
    client = site.fresh_client()
    zh = client.post(LOGIN, json={"name": "wang.gong", "password": "not the password"})
    unknown = client.post(LOGIN, json={"name": "nobody.here", "password": "not the password"})
    en = client.post(
        LOGIN, json={"name": "wang.gong", "password": "nope nope"}, headers={"Accept-Language": "en-GB,en"}
    )
    assert (zh.status_code, zh.json()["detail"]) == (401, "用户名或密码错误。")
    assert unknown.json() == zh.json()  # no hint whether the name exists
    assert (en.status_code, en.json()["detail"]) == (401, "Wrong name or password.")
    assert "fm_session" not in zh.cookies
    assert client.post(LOGIN, json={"name": "", "password": "x"}).status_code == 422


def test_changes_with_the_cookie_need_the_csrf_token_and_this_origin(site: Site) -> None:
    client = login(site)
    csrf = client.cookies["fm_csrf"]
    assert client.get("/api/v1/escalations").status_code == 200  # reads need no CSRF token
    no_token = client.post("/api/v1/sla/check")
    assert no_token.status_code == 403 and "X-CSRF-Token" in no_token.json()["detail"]
    assert client.post("/api/v1/sla/check", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/v1/sla/check", headers={"X-CSRF-Token": csrf}).status_code == 200
    cross = client.post("/api/v1/sla/check", headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert cross.status_code == 403 and "Origin" in cross.json()["detail"]
    same = client.post("/api/v1/sla/check", headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"})
    assert same.status_code == 200
    # a bearer token needs no CSRF token (a browser never adds it by itself)
    assert site.fresh_client().post("/api/v1/sla/check", headers=site.h("engineer")).status_code == 200
    # nor can another site sign someone in
    assert (
        site.fresh_client()
        .post(
            LOGIN,
            json={"name": "wang.gong", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        .status_code
        == 403
    )


def test_a_crew_member_signed_in_sees_only_their_crew(site: Site) -> None:
    client = login(site, "li.shifu")
    assert client.get("/api/v1/session/me").json()["crew_id"] == "lift-a"
    assert client.get("/api/v1/crews/lift-a").status_code == 200
    assert client.get("/api/v1/crews/fire-a").status_code == 403
    assert client.get("/api/v1/crews").status_code == 403  # a crew role may not list every crew


def test_logout_ends_the_session_for_good(site: Site) -> None:
    client = login(site)
    cookie, csrf = client.cookies["fm_session"], client.cookies["fm_csrf"]
    assert client.post("/api/v1/session/logout").status_code == 403  # without its CSRF token
    r = client.post("/api/v1/session/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    replay = site.fresh_client()
    replay.cookies.set("fm_session", cookie)
    assert replay.get("/api/v1/session/me").status_code == 401


def test_sessions_survive_a_restart_and_expire(site: Site) -> None:
    client = login(site)
    cookie = client.cookies["fm_session"]
    ctx = AppContext.from_settings(site.settings)  # a new process: new context, same store
    ctx.extras["clock"] = site.clock
    with TestClient(create_app(site.settings, ctx)) as restarted:
        restarted.cookies.set("fm_session", cookie)
        assert restarted.get("/api/v1/session/me").json()["name"] == "wang.gong"
        site.clock.t = T0 + dt.timedelta(hours=site.settings.session_hours, seconds=1)
        try:
            assert restarted.get("/api/v1/session/me").status_code == 401
        finally:
            site.clock.t = T0
    ctx.close()


def test_guessing_a_password_is_throttled_per_name(site: Site) -> None:
    with site.db.transaction() as s:
        people.ensure_user(s, "zhou", "zhou's long password", Role.VIEWER, T0)
    client = site.fresh_client()
    for _ in range(site.settings.login_max_failures):
        assert client.post(LOGIN, json={"name": "zhou", "password": "guess guess"}).status_code == 401
    blocked = client.post(LOGIN, json={"name": "ZHOU ", "password": "zhou's long password"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "分钟后再试" in blocked.json()["detail"]
    # others are not held up, and the window passes
    assert client.post(LOGIN, json={"name": "wang.gong", "password": PASSWORD}).status_code == 200
    site.clock.t = T0 + dt.timedelta(minutes=16)
    try:
        assert (
            client.post(LOGIN, json={"name": "zhou", "password": "zhou's long password"}).status_code == 200
        )
    finally:
        site.clock.t = T0


def test_tokens_travel_in_urls_only_to_the_calendar(site: Site) -> None:
    client = site.fresh_client()
    token = site.tokens["engineer"]
    assert client.get(f"/api/v1/orders?token={token}").status_code == 401
    ics = client.get(f"/api/v1/crews/lift-a/calendar.ics?token={token}")
    assert ics.status_code == 200 and ics.text.startswith("BEGIN:VCALENDAR")


def test_a_page_without_a_session_goes_to_login_and_back() -> None:
    app = FastAPI()
    app.add_exception_handler(StarletteHTTPException, _to_login)  # type: ignore[arg-type]

    @app.get("/private")
    def private() -> None:
        raise StarletteHTTPException(401, "not signed in")

    client = TestClient(app)
    page = client.get("/private?x=1", headers={"Accept": "text/html"}, follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Fprivate%3Fx%3D1")
    assert client.get("/private", headers={"Accept": "application/json"}).status_code == 401


def test_the_login_page_is_chinese_first(site: Site) -> None:
    client = site.fresh_client()
    zh = client.get("/login")
    assert zh.status_code == 200 and 'lang="zh-CN"' in zh.text and "用户名" in zh.text
    assert "/static/js/login.js" in zh.text and "http" not in zh.text.replace("http-equiv", "")
    en = client.get("/login?lang=en")
    assert 'lang="en"' in en.text and "Sign in" in en.text
    assert client.get("/static/js/login.js").status_code == 200


# ------------------------------------------------------------------------------------------ the CLI


def _cli(site: Site, monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    parser = argparse.ArgumentParser()
    people_cli.register(parser.add_subparsers(dest="command", required=True))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = parser.parse_args(["users", *argv, "--database", site.settings.sqlalchemy_url])
    return int(args.func(args))


def test_facility_users(
    site: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pw = "sun's long password"
    assert (
        _cli(site, monkeypatch, ["add", "sun", "--role", "crew", "--crew", "fire-a", "--password-stdin"], pw)
        == 0
    )
    assert "sun may sign in" in capsys.readouterr().out
    assert login(site, "sun", pw).get("/api/v1/session/me").json()["crew_id"] == "fire-a"
    with pytest.raises(UserError, match="exists"):
        _cli(site, monkeypatch, ["add", "sun", "--role", "viewer", "--password-stdin"], pw)
    with pytest.raises(UserError, match="use at least 10"):
        _cli(site, monkeypatch, ["add", "tiny", "--role", "viewer", "--password-stdin"], "short")
    with pytest.raises(UserError, match="--password-stdin"):
        _cli(site, monkeypatch, ["add", "tty", "--role", "viewer"])  # no terminal to ask
    assert _cli(site, monkeypatch, ["list"]) == 0
    assert "sun\tcrew\tfire-a\tactive" in capsys.readouterr().out
    assert _cli(site, monkeypatch, ["disable", "sun"]) == 0
    r = site.fresh_client().post(LOGIN, json={"name": "sun", "password": pw})
    assert r.status_code == 401


def test_the_demo_people_keep_their_passwords_across_restarts(site: Site, tmp_path: Path) -> None:
    file = tmp_path / "var" / "demo-people.json"
    with site.db.transaction() as s:
        first = people.demo_people(s, ["lift-a"], T0, file)
    with site.db.transaction() as s:
        again = people.demo_people(s, ["lift-a"], T0, file)
    assert first == again and [p[:2] for p in first][-1] == ("lift-a-member", "crew")
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    name, _, password = first[1]
    assert login(site, name, password).get("/api/v1/session/me").json()["role"] == "engineer"


def test_every_response_carries_the_security_headers(site: Site) -> None:
    client = site.fresh_client()
    for r in (client.get("/login"), client.get("/api/v1/orders"), client.get("/docs"), client.get("/")):
        assert r.headers["x-frame-options"] == "DENY", r.url
        assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
