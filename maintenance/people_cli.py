"""``facility users add|passwd|disable|list``: the people who sign in to the pages with a password."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys

from facility.cli import UserError
from maintenance.cli import store_transaction
from maintenance.tokens import Role


def _password(args: argparse.Namespace) -> str:
    """From one line of standard input (--password-stdin), else typed twice at the terminal."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UserError("standard input held no password: pipe it in, e.g. `printf '%s' \"$PW\" | ...`")
        return password
    if not sys.stdin.isatty():
        raise UserError("no terminal to type a password: pass --password-stdin and pipe the password in")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ; nothing was changed")
    return first


def users_add(args: argparse.Namespace) -> int:
    from maintenance.people import add_user

    password = _password(args)
    with store_transaction(args) as s:
        add_user(s, args.name, password, Role(args.role), dt.datetime.now(dt.UTC), crew_id=args.crew)
    print(f"{args.name} may sign in at /login (role {args.role})")
    return 0


def users_passwd(args: argparse.Namespace) -> int:
    from maintenance.people import set_password

    password = _password(args)
    with store_transaction(args) as s:
        set_password(s, args.name, password, dt.datetime.now(dt.UTC))
    print(f"password of {args.name} changed; their open sessions ended")
    return 0


def users_disable(args: argparse.Namespace) -> int:
    from maintenance.people import disable_user

    with store_transaction(args) as s:
        n = disable_user(s, args.name, dt.datetime.now(dt.UTC))
    print(f"{args.name} can no longer sign in ({n} open session(s) ended)")
    return 0


def users_list(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from maintenance.people import User

    with store_transaction(args) as s:
        for u in s.scalars(sa.select(User).order_by(User.name)):
            state = "disabled" if u.disabled_at else "active"
            print(f"{u.name}\t{u.role}\t{u.crew_id or '-'}\t{state}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="people who sign in with a password").add_subparsers(
        dest="users", required=True
    )

    def common(p: argparse.ArgumentParser, password: bool = False) -> argparse.ArgumentParser:
        p.add_argument("--database", help="SQLAlchemy URL (default: settings, SQLite under var/)")
        if password:
            p.add_argument(
                "--password-stdin", action="store_true", help="read the password from standard input"
            )
        return p

    p = common(users.add_parser("add", help="add a person (asks for the password)"), password=True)
    p.add_argument("name", help="the name they sign in with (recorded on every change they make)")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--crew", help="the crew of a crew member")
    p.set_defaults(func=users_add)
    p = common(users.add_parser("passwd", help="change a password (ends the person's sessions)"), True)
    p.add_argument("name")
    p.set_defaults(func=users_passwd)
    p = common(users.add_parser("disable", help="stop a person signing in (ends their sessions)"))
    p.add_argument("name")
    p.set_defaults(func=users_disable)
    p = common(users.add_parser("list", help="everyone who may sign in, with role, crew and state"))
    p.set_defaults(func=users_list)
