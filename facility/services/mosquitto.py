"""mosquitto (Debian's package) as a child process, on a port of ours, with persistence in our directory.

Authentication, strongest first:

* ``dynsec_file``: the dynamic-security plugin with its JSON config (see ``ingest.broker_accounts``; the
  file is written before the first start and then owned by the plugin, which saves every change to it).
  Accounts, roles and client-id bindings change on the running broker through ``$CONTROL`` messages.
* ``password_file`` / ``acl_file``: the static files of older set-ups (re-read on SIGHUP).
* neither: anonymous access, for plain integration tests only.

Broker limits (refused at the broker, before any of our code sees them): ``message_size_limit`` (a PUBLISH
payload above it gets PUBACK 0x95 "packet too large"), ``max_packet_size`` (a larger packet disconnects the
client), and per client ``max_queued_messages`` / ``max_queued_bytes`` (the backlog kept for an offline
persistent session) and ``max_inflight_messages``.
"""

from __future__ import annotations

import getpass
import glob
import signal
from pathlib import Path

from facility.services.packages import require
from facility.services.process import ManagedServer

#: where Debian (multi-arch), the eclipse-mosquitto image and a source build put the plugin
PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)


def dynsec_plugin() -> Path:
    for pattern in PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    raise FileNotFoundError(
        "mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) is missing: "
        "install mosquitto 2.0 or newer (`facility setup`)"
    )


class MosquittoServer(ManagedServer):
    name = "mosquitto"

    def __init__(
        self,
        workdir: Path,
        port: int,
        host: str = "127.0.0.1",
        password_file: Path | None = None,
        acl_file: Path | None = None,
        tls_port: int | None = None,
        tls_files: tuple[Path, Path, Path] | None = None,  # (ca, cert, key)
        persistence: bool = True,
        max_inflight_messages: int = 1000,
        dynsec_file: Path | None = None,
        message_size_limit: int = 0,
        max_queued_messages: int = 1_000_000,
        max_queued_bytes: int = 0,
    ) -> None:
        super().__init__(workdir, host, port)
        self.password_file = password_file
        self.acl_file = acl_file
        self.tls_port = tls_port
        self.tls_files = tls_files
        self.persistence = persistence
        #: QoS 1 messages the broker sends a client before waiting for acknowledgements (0 = no limit;
        #: MQTT 5 clients may ask for fewer with Receive Maximum)
        self.max_inflight_messages = max_inflight_messages
        self.dynsec_file = dynsec_file
        self.message_size_limit = message_size_limit
        self.max_queued_messages = max_queued_messages
        self.max_queued_bytes = max_queued_bytes

    def auth_lines(self) -> list[str]:
        if self.dynsec_file is not None:
            if not self.dynsec_file.is_file():
                raise FileNotFoundError(
                    f"{self.dynsec_file} is missing: write it first (ingest.broker_accounts.dynsec_document)"
                )
            return [
                "allow_anonymous false",
                f"plugin {dynsec_plugin()}",
                f"plugin_opt_config_file {self.dynsec_file.resolve()}",
            ]
        if self.password_file:
            lines = ["allow_anonymous false", f"password_file {self.password_file.resolve()}"]
            if self.acl_file:
                lines.append(f"acl_file {self.acl_file.resolve()}")
            return lines
        return ["allow_anonymous true"]

    def prepare(self) -> None:
        d = self.workdir.resolve()
        lines = [
            # mosquitto started as root would switch to the `mosquitto` user, which cannot write our
            # persistence directory (a private temp dir in tests): stay the user who started it
            f"user {getpass.getuser()}",
            "per_listener_settings false",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {d}/",
            "autosave_interval 1",
            f"max_queued_messages {self.max_queued_messages}",
            f"max_queued_bytes {self.max_queued_bytes}",
            f"max_inflight_messages {self.max_inflight_messages}",
            # 0: no limit but max_packet_size; a secure broker passes the contract's MAX_PAYLOAD_BYTES
            f"message_size_limit {self.message_size_limit}",
            # a packet carries the payload plus topic and properties; anything far larger is not a device's
            f"max_packet_size {max(4 * self.message_size_limit, 1 << 20)}",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"listener {self.port} {self.host}",
            *self.auth_lines(),
        ]
        if self.tls_port and self.tls_files:
            ca, cert, key = self.tls_files
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {ca.resolve()}",
                f"certfile {cert.resolve()}",
                f"keyfile {key.resolve()}",
            ]
        (d / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    @property
    def pid_file(self) -> Path:
        """Written at start so an older `facility devices` could SIGHUP the broker (password-file mode)."""
        return self.workdir / "mosquitto.pid"

    def start(self, timeout_s: float = 30.0) -> None:
        super().start(timeout_s)
        if self.proc is not None:
            self.pid_file.write_text(f"{self.proc.pid}\n")

    def reload(self) -> None:
        """Re-read password and ACL files (SIGHUP)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)

    def command(self) -> list[str]:
        return [require("mosquitto"), "-c", str((self.workdir / "mosquitto.conf").resolve())]
