"""Device names and mosquitto's *static* password / ACL file formats.

Broker accounts live in mosquitto's dynamic-security plugin (``facility.services.dynsec`` for the roles,
``ingest.broker_accounts`` for the account API, docs/devices.md). What stays here: parsing a device name given on
the command line, and rendering mosquitto's static ``password_file`` / ``acl_file`` for a broker run without the
plugin (``MosquittoServer(password_file=..., acl_file=...)``, e.g. a test that needs a fixed ACL):

    user <device>                      # one per active device
    topic write facility/<estate>/<building>/<kind>/<asset>/#
    user <service account>             # role "ingest" / "api": read every device topic
    topic read facility/#

Password hashes are mosquitto 2.x's ``$7$<iterations>$<salt b64>$<PBKDF2-SHA512 b64>``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from facility.contract import TOPIC_ROOT, AssetKind, AssetRef
from facility.services.dynsec import device_prefix, new_password

ITERATIONS = 101  # what mosquitto_passwd 2.0 uses
#: what the maintenance service publishes: crew orders and SLA escalations (see maintenance/outbox.py)
MAINTENANCE_WRITES = ("crews", "escalations", "engineers")

__all__ = [
    "Account", "SecurityError", "device_prefix", "hash_password", "new_password", "parse_device", "render_acl",
    "render_password_file", "verify_password",
]  # fmt: skip


class SecurityError(ValueError):
    pass


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    #: devices: the topic prefix they may publish under (``facility/e/b/kind/asset``); services: ""
    topic_prefix: str
    password_hash: str
    created_at_ms: int
    revoked_at_ms: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at_ms is None


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The mosquitto 2.x ``$7$`` hash (PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        _, seven, iterations, salt, digest = hashed.split("$")
    except ValueError:
        return False
    if seven != "7":
        return False
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations), 64)
    return secrets.compare_digest(base64.b64encode(got).decode(), digest)


def parse_device(spec: str) -> AssetRef:
    """``estate/building/kind/asset`` → AssetRef (raises SecurityError saying what is wrong)."""
    parts = spec.strip("/").split("/")
    if len(parts) != 4:
        raise SecurityError(f"device {spec!r} must be written estate/building/kind/asset")
    if parts[2] not in {k.value for k in AssetKind}:
        raise SecurityError(
            f"device {spec!r}: unknown kind {parts[2]!r}, expected one of {[k.value for k in AssetKind]}"
        )
    try:
        return AssetRef(parts[0], parts[1], AssetKind(parts[2]), parts[3])
    except ValueError as exc:
        raise SecurityError(f"device {spec!r}: {exc}") from None


def render_password_file(accounts: list[Account]) -> str:
    return "".join(f"{a.username}:{a.password_hash}\n" for a in accounts if a.active)


def render_acl(accounts: list[Account]) -> str:
    out = ["# generated; edits are overwritten\n"]
    for a in accounts:
        if not a.active:
            continue
        if a.role == "device":
            out.append(f"\nuser {a.username}\ntopic write {a.topic_prefix}/#\n")
        elif a.role == "maintenance":
            writes = "".join(f"topic write {TOPIC_ROOT}/{w}/#\n" for w in MAINTENANCE_WRITES)
            out.append(f"\nuser {a.username}\ntopic read {TOPIC_ROOT}/#\n{writes}")
        else:
            out.append(f"\nuser {a.username}\ntopic read {TOPIC_ROOT}/#\n")
    return "".join(out)
