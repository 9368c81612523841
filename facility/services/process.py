"""A server run as a child process, with its config and data in a directory of ours."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from facility.services.ports import wait_port


class ManagedServer:
    """Start, stop, kill -9 and restart one server; its output goes to ``<workdir>/<name>.log``."""

    name = "server"

    def __init__(self, workdir: Path, host: str, port: int) -> None:
        self.workdir = workdir
        self.host = host
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write config files before each start."""

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self, timeout_s: float = 30.0) -> None:
        self.prepare()
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=True
        )
        log.close()
        try:
            wait_port(self.host, self.port, timeout_s, self.name)
        except TimeoutError:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(
                f"{self.name} did not start on port {self.port}; its log ends:\n{tail}"
            ) from None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited at start (port {self.port} taken?); see {self.log_path}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self) -> None:
        """Crash the server (SIGKILL), as a power cut would."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
