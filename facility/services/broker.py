"""The broker a local stack runs: mosquitto with the dynamic-security plugin, the service accounts
provisioned, and the retain guard. Never an open broker."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from facility.contract import MAX_PAYLOAD_BYTES
from facility.mqtt import BrokerConfig
from facility.services.dynsec import LOCAL_SERVICES, RESERVED_PREFIX, DynsecBroker, ensure_dynsec
from facility.services.mosquitto import MosquittoServer
from facility.services.retain_guard import RetainGuard


class SecureBroker:
    """Start/stop a dynsec mosquitto in ``workdir``; ``info`` has its address and service credentials."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        host: str = "127.0.0.1",
        services: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_file = workdir / "dynamic-security.json"
        #: our copy of the service passwords (mode 0600); the plugin keeps only their hashes
        self.secrets_file = workdir / "credentials.json"
        self.services = LOCAL_SERVICES if services is None else services
        self.credentials: dict[str, str] = {}
        kw.setdefault("message_size_limit", MAX_PAYLOAD_BYTES)
        self.server = MosquittoServer(workdir, port, host, dynsec_file=self.config_file, **kw)
        self.guard: RetainGuard | None = None

    @property
    def info(self) -> DynsecBroker:
        return DynsecBroker(self.server.host, self.server.port, self.credentials)

    def start(self, timeout_s: float = 30.0) -> None:
        """Write the plugin's config and the service passwords on the first start, then run the broker."""
        self.credentials = ensure_dynsec(self.config_file, self.secrets_file, self.services)
        self.server.start(timeout_s)
        user, password = self.info.admin
        config = BrokerConfig(self.server.host, self.server.port, user, password)
        self.guard = RetainGuard(config, f"{RESERVED_PREFIX}retain-guard")
        self.guard.start()

    def supervise(self) -> None:
        """Restart mosquitto when it dies (the guard reconnects by itself)."""
        self.server.supervise()

    def stop(self) -> None:
        if self.guard is not None:
            self.guard.stop()
            self.guard = None
        self.server.stop()
