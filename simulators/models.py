"""Degradation models: hidden health, wear, hazard and repair, one parameter set per asset kind.

Formulas (docs/simulators.md explains them with figures):

* health ``h`` in [0, 1]; 1 is as new. Per step of ``dt`` hours an *up* asset loses

      Δh = dt / L · ((1 − s) + s · u(t) / ū) · r · exp(σ·ε − σ²/2),   ε ~ N(0, 1)

  where ``L`` is the kind's nominal life in hours (health 1 → 0 at average use), ``s`` the share of wear
  caused by use, ``u(t)`` the usage pattern (simulators.usage) and ``ū`` its weekly mean, ``r`` the asset's
  own wear-rate multiplier (lognormal, older installations wear faster) and ``σ`` the step noise.
* failure hazard per hour: ``λ(h) = λ0 · exp(k · (1 − h))``; within a step the failure probability is
  ``1 − exp(−λ·dt)``.
* repairs: corrective (after a failure) restores ``h`` to the asset's ceiling ``h_max`` (1 − aging per year
  of age, at least 0.75); preventive restores ``h ← h + ρ·(h_max − h)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from facility.contract import SCHEMAS, AlarmOutcome, AssetKind
from simulators.usage import mean_usage

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class KindModel:
    kind: AssetKind
    life_days: float  # nominal life: days for health to wear from 1 to 0 at average use
    use_share: float  # share s of the wear caused by use (the rest is calendar ageing)
    rate_sigma: float  # spread of the per-asset wear-rate multiplier r (lognormal sigma)
    step_sigma: float  # per-step wear noise sigma
    hazard_base_per_h: float  # λ0: hazard of an as-new asset
    hazard_k: float  # k: growth of the log-hazard as health falls
    fault_weights: tuple[tuple[str, float], ...]  # fault code -> relative frequency
    aging_per_year: float = 0.01  # loss of the health ceiling per year since installation
    preventive_restore: float = 0.9  # ρ: share of the lost health a preventive repair restores

    def __post_init__(self) -> None:
        codes = set(SCHEMAS[self.kind].fault_codes)
        for code, _ in self.fault_weights:
            if code not in codes:
                raise ValueError(
                    f"{self.kind.value}: fault code {code!r} is not in the contract's {sorted(codes)}"
                )
        if not 0 <= self.use_share <= 1:
            raise ValueError(f"use_share must be in [0, 1], but was {self.use_share!r}")

    @property
    def life_h(self) -> float:
        return self.life_days * 24.0

    def hazard(self, health: npt.ArrayLike) -> Array:
        """λ(h) per hour."""
        h = np.clip(np.asarray(health, dtype=np.float64), 0.0, 1.0)
        return np.asarray(self.hazard_base_per_h * np.exp(self.hazard_k * (1.0 - h)))

    def wear(self, u: Array, dt_h: float, rate: float, eps: Array) -> Array:
        """Health lost per step by an up asset (see the module docstring)."""
        s = self.use_share
        shape = (1.0 - s) + s * u / _MEAN_USAGE[self.kind]
        noise = np.exp(self.step_sigma * eps - 0.5 * self.step_sigma**2)
        return np.asarray(dt_h / self.life_h * shape * rate * noise)

    def fault_codes(self) -> tuple[list[str], Array]:
        codes = [c for c, _ in self.fault_weights]
        w = np.array([w for _, w in self.fault_weights], dtype=np.float64)
        return codes, w / w.sum()


_MEAN_USAGE = {kind: mean_usage(kind) for kind in AssetKind}

MODELS: dict[AssetKind, KindModel] = {
    AssetKind.ELEVATOR: KindModel(
        AssetKind.ELEVATOR,
        life_days=300,
        use_share=0.6,
        rate_sigma=0.45,
        step_sigma=0.3,
        hazard_base_per_h=1 / (8 * 8760),
        hazard_k=7.0,
        fault_weights=(
            ("door_fault", 0.4),
            ("drive_fault", 0.2),
            ("leveling_fault", 0.2),
            ("entrapment", 0.1),
            ("out_of_service", 0.1),
        ),
    ),
    AssetKind.FIRE_ALARM: KindModel(
        AssetKind.FIRE_ALARM,
        life_days=420,
        use_share=0.0,
        rate_sigma=0.45,
        step_sigma=0.3,
        hazard_base_per_h=1 / (10 * 8760),
        hazard_k=7.0,
        fault_weights=(
            ("detector_fault", 0.45),
            ("loop_fault", 0.3),
            ("power_fault", 0.15),
            ("offline", 0.1),
        ),
    ),
    AssetKind.WATER_PUMP: KindModel(
        AssetKind.WATER_PUMP,
        life_days=360,
        use_share=0.7,
        rate_sigma=0.45,
        step_sigma=0.3,
        hazard_base_per_h=1 / (10 * 8760),
        hazard_k=7.0,
        fault_weights=(
            ("bearing_overheat", 0.3),
            ("motor_fault", 0.3),
            ("pressure_loss", 0.25),
            ("dry_run", 0.15),
        ),
    ),
    AssetKind.SMART_BIN: KindModel(
        AssetKind.SMART_BIN,
        life_days=280,
        use_share=0.6,
        rate_sigma=0.45,
        step_sigma=0.3,
        hazard_base_per_h=1 / (8 * 8760),
        hazard_k=6.5,
        fault_weights=(("sensor_fault", 0.6), ("lid_fault", 0.4)),
    ),
}


#: what the device says about each fault (the event's ``detail``): fixed text, nothing about hidden health
FAULT_DETAILS: dict[str, str] = {
    "entrapment": "passenger trapped: car stopped between floors",
    "door_fault": "door failed to close after 3 attempts",
    "drive_fault": "traction drive tripped on overcurrent",
    "leveling_fault": "stopping error above 20 mm, car taken out of service",
    "out_of_service": "safety circuit open, car out of service",
    "loop_fault": "detector loop open circuit",
    "detector_fault": "detectors not responding on the loop",
    "power_fault": "mains power lost, panel on standby battery",
    "offline": "panel stopped reporting (reported by the gateway)",
    "dry_run": "suction tank low: pump stopped to protect the seal",
    "pressure_loss": "outlet pressure below 0.1 MPa",
    "motor_fault": "motor protection relay tripped",
    "bearing_overheat": "bearing temperature above 90 °C: pump stopped",
    "sensor_fault": "fill-level sensor self-test failed",
    "lid_fault": "lid jammed",
}

#: what staff confirm when they check and reset a simulated alarm (``outcome`` on its ``alarm_clear``): the
#: simulators start no fires, so every fire alarm is a false one; other alarms are conditions, not confirmed
CONFIRMED_OUTCOMES: dict[str, AlarmOutcome] = {"fire_alarm": AlarmOutcome.FALSE_ALARM}
