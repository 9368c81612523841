"""mosquitto (Debian's package) as a child process, on a port of ours, with persistence in our directory.

Authentication: when ``password_file`` / ``acl_file`` are given, anonymous access is off and the broker
checks them (see ``ingest.security`` for how they are generated; ``facility devices`` writes them
and sends SIGHUP to the pid in ``<workdir>/mosquitto.pid`` so the broker re-reads them).
"""

from __future__ import annotations

import getpass
import signal
from pathlib import Path

from facility.services.packages import require
from facility.services.process import ManagedServer


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
            "max_queued_messages 1000000",
            f"max_inflight_messages {self.max_inflight_messages}",
            "max_packet_size 1048576",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"listener {self.port} {self.host}",
        ]
        if self.password_file:
            lines += ["allow_anonymous false", f"password_file {self.password_file.resolve()}"]
            if self.acl_file:
                lines.append(f"acl_file {self.acl_file.resolve()}")
        else:
            lines.append("allow_anonymous true")
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
        """Written at start so `facility devices` can SIGHUP the broker to reload password and ACL files."""
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
