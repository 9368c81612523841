"""Sign-in for people: the /login page, ``POST /api/v1/session/login``, ``/logout`` and ``/me``.

A successful login sets two cookies: ``fm_session`` (HttpOnly, SameSite=Lax, Secure over https: the
session) and ``fm_csrf`` (readable by the page scripts, which send it back in ``X-CSRF-Token`` with every
POST/PUT/PATCH/DELETE). Sessions are rows in the relational store, so they survive a restart. Repeated
wrong passwords for one name make that name wait (429) for the rest of a 15-minute window.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
from collections import deque
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, authenticated, same_origin
from api.deps import ClockDep, ContextDep, SessionDep
from maintenance.people import check_password, csrf_matches, end_session, resolve_session, start_session
from maintenance.tokens import Principal

UNPREFIXED = True
PREFIX = "/api/v1/session"
FAILURE_WINDOW = dt.timedelta(minutes=15)

#: user-facing text of this module (zh first), until it moves to the message catalogue
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "登录",
        "brand": "设施监测",
        "name": "用户名",
        "password": "密码",
        "submit": "登录",
        "hint": "请输入管理员为您开设的用户名和密码。",
        "wrong": "用户名或密码错误。",
        "wait": "登录失败次数过多，请 {minutes} 分钟后再试。",
        "origin": "拒绝跨站登录请求。",
        "other": "English",
    },
    "en": {
        "title": "Sign in",
        "brand": "Facility",
        "name": "Name",
        "password": "Password",
        "submit": "Sign in",
        "hint": "Enter the name and password your administrator gave you.",
        "wrong": "Wrong name or password.",
        "wait": "Too many failed sign-ins; try again in {minutes} minutes.",
        "origin": "Cross-site sign-in refused.",
        "other": "中文",
    },
}

router = APIRouter(prefix=PREFIX, tags=["session"])
public_router = APIRouter(tags=["session"])


def language(request: Request) -> str:
    """``?lang=`` → the pages' ``lang`` cookie → Accept-Language → zh."""
    for value in (request.query_params.get("lang"), request.cookies.get("lang")):
        if value in TEXT:
            return value
    accept = request.headers.get("accept-language", "").strip().lower()
    return "en" if accept.startswith("en") else "zh"


class LoginIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["wang.gong"])
    password: str = Field(min_length=1, max_length=1024, examples=["correct horse battery"])


class SessionOut(BaseModel):
    name: str
    role: str
    crew_id: str | None
    #: "session" (signed in with a password) or "token" (an API token)
    via: str
    #: send this in X-CSRF-Token with every change made with the session cookie (null for tokens)
    csrf_token: str | None = None
    expires_at: dt.datetime | None = None


class _Failures:
    """Failed logins per name in the last FAILURE_WINDOW (in memory: a restart forgets them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, deque[dt.datetime]] = {}

    def recent(self, name: str, now: dt.datetime) -> deque[dt.datetime]:
        q = self._by_name.setdefault(name, deque())
        while q and q[0] <= now - FAILURE_WINDOW:
            q.popleft()
        return q

    def blocked_for(self, name: str, now: dt.datetime, limit: int) -> dt.timedelta | None:
        with self._lock:
            q = self.recent(name, now)
            return q[0] + FAILURE_WINDOW - now if len(q) >= limit else None

    def add(self, name: str, now: dt.datetime) -> None:
        with self._lock:
            self.recent(name, now).append(now)
            if len(self._by_name) > 10_000:  # names that never come back are forgotten
                for key in [k for k, v in self._by_name.items() if not v]:
                    del self._by_name[key]

    def clear(self, name: str) -> None:
        with self._lock:
            self._by_name.pop(name, None)


def _failures(ctx: ContextDep) -> _Failures:
    failures = ctx.extras.get("login_failures")
    if failures is None:
        failures = ctx.extras["login_failures"] = _Failures()
    assert isinstance(failures, _Failures)
    return failures


def _set_cookies(request: Request, response: Response, token: str, csrf: str, max_age: int) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="lax", secure=secure, path="/"
    )


def _clear_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@public_router.post(PREFIX + "/login", response_model=SessionOut, responses={401: {}, 403: {}, 429: {}})
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    ctx: ContextDep,
    failures: Annotated[_Failures, Depends(_failures)],
) -> SessionOut:
    """Sign in with a name and password: sets the session cookie (and the CSRF cookie for the pages)"""
    text = TEXT[language(request)]
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, text["origin"])
    now = clock().astimezone(dt.UTC)
    key = body.name.strip().casefold()
    wait = failures.blocked_for(key, now, ctx.settings.login_max_failures)
    if wait is not None:
        minutes = max(1, round(wait.total_seconds() / 60))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            text["wait"].format(minutes=minutes),
            headers={"Retry-After": str(int(wait.total_seconds()) + 1)},
        )
    user = check_password(session, body.name, body.password)
    if user is None:
        failures.add(key, now)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, text["wrong"])
    failures.clear(key)
    ttl = dt.timedelta(hours=ctx.settings.session_hours)
    info = start_session(session, user, now, ttl)
    assert info.token is not None
    _set_cookies(request, response, info.token, info.csrf_token, int(ttl.total_seconds()))
    p = info.principal
    return SessionOut(
        name=p.name,
        role=p.role.value,
        crew_id=p.crew_id,
        via="session",
        csrf_token=info.csrf_token,
        expires_at=info.expires_at,
    )


@public_router.post(PREFIX + "/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, session: SessionDep, clock: ClockDep) -> Response:
    """Sign out: ends this browser's session (with its CSRF token) and clears the cookies"""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        now = clock().astimezone(dt.UTC)
        info = resolve_session(session, cookie, now)
        if info is not None:
            if not csrf_matches(info, request.headers.get(CSRF_HEADER)) or not same_origin(request):
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"send the {CSRF_HEADER} header to sign out")
            end_session(session, info.session_id, now)
    _clear_cookies(response)
    return response


@router.get("/me", response_model=SessionOut)
def me(request: Request, who: Annotated[Principal, Depends(authenticated)]) -> SessionOut:
    """Who is signed in (or whose API token this is), and the session's CSRF token"""
    info = getattr(request.state, "session", None)
    return SessionOut(
        name=who.name,
        role=who.role.value,
        crew_id=who.crew_id,
        via="session" if info is not None else "token",
        csrf_token=info.csrf_token if info is not None else None,
        expires_at=info.expires_at if info is not None else None,
    )


@public_router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request) -> HTMLResponse:
    """The sign-in page (Chinese first; ?lang=en)"""
    lang = language(request)
    text = {k: html.escape(v) for k, v in TEXT[lang].items()}
    other = "en" if lang == "zh" else "zh"
    page = f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{text["title"]} · {text["brand"]}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/css/app.css">
</head>
<body data-page="login" data-lang="{lang}">
<header class="top"><a class="brand" href="/">{text["brand"]}</a>
<nav><a href="/login?lang={other}" id="lang-switch">{text["other"]}</a></nav></header>
<main id="app">
<form id="login-form" class="card" method="post" action="{PREFIX}/login" style="max-width:24rem;margin:2rem auto">
<h1>{text["title"]}</h1>
<p class="muted small">{text["hint"]}</p>
<p><label for="login-name">{text["name"]}</label><br>
<input id="login-name" name="name" autocomplete="username" required maxlength="200" style="width:100%"></p>
<p><label for="login-password">{text["password"]}</label><br>
<input id="login-password" name="password" type="password" autocomplete="current-password" required
 maxlength="1024" style="width:100%"></p>
<p id="login-error" class="error" role="alert" hidden></p>
<p><button type="submit" class="big primary" style="width:100%">{text["submit"]}</button></p>
</form>
</main>
<script type="module" src="/static/js/login.js"></script>
</body>
</html>
"""
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
