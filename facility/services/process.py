"""A server run as a child process, with its config and data in a directory of ours, optionally supervised:
a monitor thread restarts it when it dies, with back-off, and logs why (exit code or signal, log tail)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from facility.services.ports import wait_port

log = logging.getLogger(__name__)

#: seconds to wait before each successive restart; the last one repeats
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def exit_reason(returncode: int) -> str:
    """``-9`` → "killed by signal SIGKILL", ``1`` → "exited with status 1"."""
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


class ManagedServer:
    """Start, stop, kill -9 and restart one server; its output goes to ``<workdir>/<name>.log``."""

    name = "server"

    def __init__(self, workdir: Path, host: str, port: int) -> None:
        self.workdir = workdir
        self.host = host
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        #: restarts made by the monitor, with the reason of each death
        self.restarts: list[str] = []
        self._lock = threading.RLock()
        self._monitor: threading.Thread | None = None
        self._stop_monitor = threading.Event()
        workdir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write config files before each start."""

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self, timeout_s: float = 30.0) -> None:
        with self._lock:
            self._start(timeout_s)

    def _start(self, timeout_s: float) -> None:
        self.prepare()
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )
        log_file.close()
        try:
            wait_port(self.host, self.port, timeout_s, self.name)
        except TimeoutError:
            tail = self.log_tail()
            self._stop_child(10.0)
            raise RuntimeError(
                f"{self.name} did not start on port {self.port}; its log ends:\n{tail}"
            ) from None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited at start (port {self.port} taken?); see {self.log_path}")

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop_monitor.set()
        if self._monitor is not None and self._monitor is not threading.current_thread():
            self._monitor.join(timeout_s)
        self._monitor = None
        with self._lock:
            self._stop_child(timeout_s)

    def _stop_child(self, timeout_s: float) -> None:
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
        """Crash the server (SIGKILL), as a power cut would (a supervised server is then restarted)."""
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            if self._monitor is None:
                self.proc = None

    def restart(self) -> None:
        with self._lock:
            self._stop_child(10.0)
            self._start(30.0)

    # --- supervision

    def supervise(
        self, backoff_s: Sequence[float] = BACKOFF_S, poll_s: float = 0.2, stable_s: float = 60.0
    ) -> None:
        """Watch the child from a daemon thread and restart it whenever it dies, until :meth:`stop`.

        The n-th restart in a row waits ``backoff_s[n]`` first; a child that has run ``stable_s`` seconds
        resets the count. Each death is logged as a warning with its exit code or signal and the log's tail.
        """
        if self._monitor is not None:
            return
        self._stop_monitor.clear()
        self._monitor = threading.Thread(
            target=self._watch,
            args=(tuple(backoff_s), poll_s, stable_s),
            name=f"supervise-{self.name}",
            daemon=True,
        )
        self._monitor.start()

    def _watch(self, backoff_s: tuple[float, ...], poll_s: float, stable_s: float) -> None:
        failures, since = 0, time.monotonic()
        while not self._stop_monitor.wait(poll_s):
            with self._lock:
                proc = self.proc
                code = None if proc is None else proc.poll()
            if proc is not None and code is None:
                if failures and time.monotonic() - since > stable_s:
                    failures = 0
                continue
            delay = backoff_s[min(failures, len(backoff_s) - 1)]
            reason = "is not running (its last start failed)" if code is None else exit_reason(code)
            self.restarts.append(reason)
            log.warning(
                "%s (pid %s) %s; restarting in %.1f s (restart %d in a row). Its log ends:\n%s",
                self.name, proc.pid if proc else "?", reason, delay, failures + 1, self.log_tail(800),
            )  # fmt: skip
            if self._stop_monitor.wait(delay):
                return
            failures += 1
            try:
                with self._lock:
                    if self._stop_monitor.is_set():
                        return
                    self._start(30.0)
                since = time.monotonic()
                log.warning("%s restarted (pid %s)", self.name, self.proc.pid if self.proc else "?")
            except (RuntimeError, OSError) as exc:
                log.error("%s could not be restarted: %s", self.name, exc)
