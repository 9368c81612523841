"""InfluxDB 1.x (Debian's ``influxdb`` package) as a child process, data under our own directory."""

from __future__ import annotations

from pathlib import Path

from facility.services.packages import require
from facility.services.ports import free_port
from facility.services.process import ManagedServer


class InfluxServer(ManagedServer):
    name = "influxd"

    def __init__(
        self, workdir: Path, port: int, host: str = "127.0.0.1", rpc_port: int | None = None
    ) -> None:
        super().__init__(workdir, host, port)
        self.rpc_port = rpc_port or free_port()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def prepare(self) -> None:
        d = self.workdir.resolve()
        (d / "influxd.conf").write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "1m"
  index-version = "inmem"
[coordinator]
  write-timeout = "10s"
  max-select-point = 0
  max-select-series = 0
[retention]
  check-interval = "30m"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  auth-enabled = false
  log-enabled = false
  max-body-size = 0
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""
        )

    def command(self) -> list[str]:
        return [require("influxd"), "run", "-config", str((self.workdir / "influxd.conf").resolve())]
