"""The local services of `facility services` / `make demo`: mosquitto and influxd as our child processes.

Config and data live under ``<var_dir>/services/``; ports come from Settings (defaults 18830 and 18086,
away from a system broker on 1883). When ``manage_services`` is off, the servers named in Settings are used.

The broker is never open: it runs the dynamic-security plugin with the service accounts provisioned (their
passwords in ``<var_dir>/services/mosquitto/credentials.json``, mode 0600), or, when password and ACL files
are given, mosquitto's static files. Both children are supervised: one that dies is restarted with back-off.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from facility.services.broker import SecureBroker
from facility.services.dynsec import DynsecBroker
from facility.services.influxd import InfluxServer
from facility.services.mosquitto import MosquittoServer
from facility.services.packages import MissingPackage, require
from facility.services.ports import port_open
from facility.settings import Settings

log = logging.getLogger(__name__)


class StackError(RuntimeError):
    """Why the stack cannot start, in one sentence."""


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def tls_files(settings: Settings) -> tuple[Path, Path, Path] | None:
    """(CA, certificate, key) for the broker's TLS listener, when FACILITY_MQTT_TLS_PORT asks for one."""
    if settings.mqtt_tls_port is None:
        return None
    files = (settings.mqtt_ca_file, settings.mqtt_tls_certfile, settings.mqtt_tls_keyfile)
    names = ("FACILITY_MQTT_CA_FILE", "FACILITY_MQTT_TLS_CERTFILE", "FACILITY_MQTT_TLS_KEYFILE")
    missing = [n for n, f in zip(names, files, strict=True) if f is None or not Path(f).is_file()]
    if missing:
        raise StackError(f"a TLS listener needs existing files in {', '.join(missing)}")
    ca, cert, key = (Path(f) for f in files if f is not None)
    return ca, cert, key


def broker_dir(settings: Settings) -> Path:
    """Where the local broker keeps its config, persistence, the plugin's accounts and our service passwords."""
    return settings.var_dir / "services" / "mosquitto"


def influx_ping(url: str, timeout_s: float = 5.0) -> bool:
    """InfluxDB's ``/ping`` answers 204. The ground floor only checks the server is there: its database is
    created by the processes that write (the ingester, ``facility history``), through ingest.influx."""
    try:
        return httpx.get(f"{url.rstrip('/')}/ping", timeout=timeout_s).status_code == 204
    except httpx.HTTPError:
        return False


class LocalStack:
    def __init__(
        self,
        settings: Settings,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        supervise: bool = True,
    ) -> None:
        self.settings = settings
        self.supervise = supervise
        root = settings.var_dir / "services"
        self.influxd = InfluxServer(root / "influxd", _port(settings.influx_url))
        tls_port, tls = settings.mqtt_tls_port, tls_files(settings)
        self.broker: SecureBroker | None = None
        if password_file is not None:  # static password and ACL files
            self.mosquitto = MosquittoServer(
                broker_dir(settings),
                settings.mqtt_port,
                password_file=password_file,
                acl_file=acl_file,
                tls_port=tls_port,
                tls_files=tls,
            )
        else:
            self.broker = SecureBroker(
                broker_dir(settings), settings.mqtt_port, tls_port=tls_port, tls_files=tls
            )
            self.mosquitto = self.broker.server

    @property
    def credentials(self) -> dict[str, str]:
        """User name -> password of the broker's admin and service accounts (after :meth:`start`)."""
        return dict(self.broker.credentials) if self.broker else {}

    @property
    def broker_info(self) -> DynsecBroker:
        if self.broker is None:
            raise StackError(
                "this stack's broker uses static password files, not the dynamic-security plugin"
            )
        return self.broker.info

    def start(self) -> None:
        if not self.settings.manage_services:
            self.check_external()
            return
        for server, what in ((self.mosquitto, "mosquitto"), (self.influxd, "influxd")):
            try:
                require(what)
            except MissingPackage as exc:
                raise StackError(str(exc)) from None
            if port_open(server.host, server.port):
                raise StackError(
                    f"port {server.port} for {what} is already in use: stop what holds it or set "
                    f"FACILITY_{'MQTT_PORT' if what == 'mosquitto' else 'INFLUX_URL'} to a free one"
                )
            log.info("starting %s on %s:%s (data in %s)", what, server.host, server.port, server.workdir)
            if self.broker is not None and server is self.mosquitto:
                try:
                    self.broker.start()
                except (
                    FileNotFoundError
                ) as exc:  # no dynamic-security plugin: never fall back to an open broker
                    raise StackError(str(exc)) from None
                log.info(
                    "broker accounts: dynamic-security plugin; service passwords in %s",
                    self.broker.secrets_file,
                )
            else:
                server.start()
            if self.supervise:
                server.supervise()

    def check_external(self) -> None:
        s = self.settings
        if not port_open(s.mqtt_host, s.mqtt_port):
            raise StackError(
                f"no MQTT broker answers at {s.mqtt_host}:{s.mqtt_port}: start one or fix FACILITY_MQTT_*"
            )
        if not influx_ping(s.influx_url):
            raise StackError(f"no InfluxDB answers at {s.influx_url}: start it or fix FACILITY_INFLUX_URL")

    def stop(self) -> None:
        if self.broker is not None:
            self.broker.stop()
        else:
            self.mosquitto.stop()
        self.influxd.stop()
