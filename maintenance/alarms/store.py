"""The alarm lifecycle in the store, and alarm → order rules.

States: ``active`` → ``acknowledged`` → ``cleared``; an alarm cleared before anyone acknowledged it is
``cleared_unacknowledged`` until someone does (then ``cleared``). A raise of the same rule on the same asset
while its alarm is not yet cleared *and* acknowledged counts on that alarm (``count``, ``last_at``) instead of
opening another row; a cleared-unacknowledged alarm that is raised again becomes active again.

A rule with an ``order`` priority opens a corrective order when its alarm is raised, or links the alarm to
the open corrective order for the same asset and code (fault events: maintenance.handler opens that one; it
links alarms raised before it). Clearing an alarm never closes its order.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

import maintenance.alarms.changes  # noqa: F401  (orders → change log)
from facility.contract import SCHEMAS, AssetKind
from maintenance.alarms.evaluate import Action, Signal
from maintenance.alarms.models import AlarmRow, AlarmRuleRow, ChangeRow
from maintenance.alarms.rules import Rule, RuleType, Severity, effective
from maintenance.alarms.texts import detail_text, rule_name
from maintenance.domain import OPEN_STATES, OrderType, Priority
from maintenance.models import Asset, Building, Crew, Order
from maintenance.outbox import enqueue_channels

SYSTEM_ACTOR = "system:alarms"


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED_UNACKNOWLEDGED = "cleared_unacknowledged"
    CLEARED = "cleared"


UNCLEARED = (AlarmState.ACTIVE.value, AlarmState.ACKNOWLEDGED.value)
#: states in which a new raise counts on the existing alarm
REPEATABLE = (*UNCLEARED, AlarmState.CLEARED_UNACKNOWLEDGED.value)


class AlarmNotFound(LookupError):
    pass


class AlarmConflict(ValueError):
    """The alarm is not in a state that allows this step; the message says which it is in."""


def _ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def alarm_payload(session: Session, row: AlarmRow, building_code: str | None = None) -> dict[str, Any]:
    if building_code is None:
        building = session.get(Building, row.building_id)
        building_code = building.code if building else str(row.building_id)
    return {
        "id": row.id,
        "asset": row.asset_id,
        "kind": row.kind,
        "estate": row.estate_id,
        "building": building_code,
        "rule": row.rule_key,
        "rule_name": {lang: rule_name(row.rule_key, lang) for lang in ("zh", "en")},
        "severity": row.severity,
        "state": row.state,
        "count": row.count,
        "detail": row.detail,
        "detail_text": {lang: detail_text(row.detail, row.kind, lang) for lang in ("zh", "en")},
        "value": row.value,
        "first_at": _iso(row.first_at),
        "last_at": _iso(row.last_at),
        "acknowledged_at": _iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "cleared_at": _iso(row.cleared_at),
        "cleared_by": row.cleared_by,
        "outcome": row.outcome,
        "note": row.note,
        "order": row.order_id,
    }


def record_change(session: Session, topic: str, payload: dict[str, Any], at: dt.datetime) -> None:
    """Append to the change log the API's live stream tails (same transaction as the change)."""
    session.add(ChangeRow(at=at, topic=topic, payload=payload))


# --------------------------------------------------------------------------------------- rules in the store


def rule_from_row(row: AlarmRuleRow) -> Rule:
    return Rule(
        row.key,
        AssetKind(row.kind),
        RuleType(row.type),
        Severity(row.severity),
        row.params,
        Priority(row.order_priority) if row.order_priority else None,
        row.enabled,
        row.scope,
    )


def stored_rules(session: Session) -> list[Rule]:
    return [rule_from_row(r) for r in session.scalars(sa.select(AlarmRuleRow).order_by(AlarmRuleRow.id))]


def rules_for(session: Session, asset: Asset) -> list[Rule]:
    return effective(AssetKind(asset.kind), asset.estate_id, asset.id, stored_rules(session))


def order_priority_for(session: Session, asset: Asset, code: str) -> Priority | None:
    """The order priority a rule gives fault ``code`` on ``asset`` (None: no rule says)."""
    for rule in rules_for(session, asset):
        if rule.type is RuleType.EVENT and code in rule.codes and rule.order is not None:
            return rule.order
    return None


# --------------------------------------------------------------------------------------- lifecycle


def _latest(session: Session, asset_id: str, rule_key: str, states: tuple[str, ...]) -> AlarmRow | None:
    return session.scalars(
        sa.select(AlarmRow)
        .where(AlarmRow.asset_id == asset_id, AlarmRow.rule_key == rule_key, AlarmRow.state.in_(states))
        .order_by(AlarmRow.id.desc())
        .limit(1)
    ).first()


def _open_order(session: Session, asset_id: str, code: str) -> Order | None:
    return session.scalars(
        sa.select(Order)
        .where(
            Order.asset_id == asset_id,
            Order.fault_code == code,
            Order.type == OrderType.CORRECTIVE.value,
            Order.state.in_([s.value for s in OPEN_STATES]),
        )
        .order_by(Order.id.desc())
        .limit(1)
    ).first()


def _order_for(session: Session, rule: Rule, asset: Asset, row: AlarmRow, at: dt.datetime) -> None:
    """Link the alarm to the open corrective order of its code, or open one when the rule says so."""
    if row.order_id is not None or (rule.order is None and rule.type is not RuleType.EVENT):
        return
    code = rule.codes[0] if rule.codes else rule.key
    existing = next((o for c in rule.codes or (code,) if (o := _open_order(session, asset.id, c))), None)
    if existing is not None:
        row.order_id = existing.id
        return
    if rule.order is None or code in SCHEMAS[AssetKind(asset.kind)].fault_codes:
        return  # the event handler opens fault orders (and links this alarm when it does)
    from maintenance.orders import auto_assign, create_order, system_title

    order = create_order(
        session,
        asset_id=asset.id,
        type=OrderType.CORRECTIVE,
        priority=rule.order,
        title=system_title(asset.kind, asset.id, rule_name(rule.key)),
        description=row.detail,
        fault_code=code,
        actor=SYSTEM_ACTOR,
        at=at,
    )
    auto_assign(session, order, SYSTEM_ACTOR, at)
    row.order_id = order.id
    # the device's own alarm raised by the same message (low_pressure, before its repetition) joins it too
    link_alarms(session, asset.id, code, order)


def link_alarms(session: Session, asset_id: str, code: str, order: Order) -> int:
    """Point the uncleared alarms of ``asset_id`` whose rules cover fault ``code`` at ``order``."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        return 0
    keys = [r.key for r in rules_for(session, asset) if code in r.codes]
    if not keys:
        return 0
    rows = session.scalars(
        sa.select(AlarmRow).where(
            AlarmRow.asset_id == asset_id,
            AlarmRow.rule_key.in_(keys),
            AlarmRow.state.in_(REPEATABLE),
            AlarmRow.order_id.is_(None),
        )
    ).all()
    for row in rows:
        row.order_id = order.id
    return len(rows)


class Batch:
    """The alarms one batch of signals touches, so each is read once and announced once (its final state).

    ``finish()`` flushes, appends one change-log entry per touched alarm and queues the notifications.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: dict[tuple[str, str], AlarmRow | None] = {}
        self.events: dict[int, tuple[AlarmRow, str, dt.datetime]] = {}
        self.notify: dict[int, tuple[AlarmRow, Asset, bool, dt.datetime]] = {}
        self._crews: list[Crew] | None = None
        #: assets whose repeatable alarms were all read by ``preload``
        self._complete: set[str] = set()
        self.buildings: dict[int, str] = {}

    def preload(self, asset_ids: set[str]) -> dict[str, Asset]:
        """Read the assets, their buildings and their repeatable alarms in three queries; returns the assets."""
        ids = sorted(asset_ids - {k[0] for k in self.rows})
        assets = {a.id: a for a in self.session.scalars(sa.select(Asset).where(Asset.id.in_(asset_ids)))}
        if ids:
            building_ids = {a.building_id for a in assets.values()} - set(self.buildings)
            for b in self.session.scalars(sa.select(Building).where(Building.id.in_(building_ids))):
                self.buildings[b.id] = b.code
            rows = self.session.scalars(
                sa.select(AlarmRow)
                .where(AlarmRow.asset_id.in_(ids), AlarmRow.state.in_(REPEATABLE))
                .order_by(AlarmRow.id)
            )
            for row in rows:  # the latest per (asset, rule) wins
                self.rows[(row.asset_id, row.rule_key)] = row
            self._complete = self._complete | set(ids)
        return assets

    def current(self, asset_id: str, rule_key: str) -> AlarmRow | None:
        """The rule's alarm on the asset that a raise would count on (not yet cleared *and* acknowledged)."""
        key = (asset_id, rule_key)
        if key not in self.rows:
            preloaded = asset_id in self._complete
            self.rows[key] = None if preloaded else _latest(self.session, asset_id, rule_key, REPEATABLE)
        row = self.rows[key]
        return row if row is not None and row.state in REPEATABLE else None

    def crews(self) -> list[Crew]:
        if self._crews is None:
            self._crews = list(self.session.scalars(sa.select(Crew).where(Crew.active).order_by(Crew.id)))
        return self._crews

    def recipients(self, asset: Asset, row: AlarmRow) -> list[tuple[str, str]]:
        crews = [c.id for c in self.crews() if asset.kind in c.skills and asset.estate_id in c.estates]
        order = self.session.get(Order, row.order_id) if row.order_id else None
        if order is not None and order.crew_id and order.crew_id not in crews:
            crews.insert(0, order.crew_id)
        return [("crew", c) for c in crews]

    def finish(self) -> None:
        self.session.flush()
        payloads = {
            key: alarm_payload(self.session, row, self.buildings.get(row.building_id))
            for key, (row, _, _) in self.events.items()
        }
        for key, (_, event, at) in self.events.items():
            record_change(self.session, "alarm", {"event": event, **payloads[key]}, at)
        for key, (row, asset, urgent, at) in self.notify.items():
            payload = {"note": "alarm", **payloads[key]}
            enqueue_channels(self.session, self.recipients(asset, row), payload, at, urgent)
        self.events.clear()
        self.notify.clear()


def apply_signal(
    session: Session,
    rule: Rule,
    signal: Signal,
    asset: Asset,
    notify: bool = True,
    batch: Batch | None = None,
) -> AlarmRow | None:
    """Raise/repeat or clear the alarm of ``rule`` on ``asset``; returns the alarm changed (None: nothing).

    ``notify`` False (history backfills) queues no notifications. With a ``batch`` the change log and the
    notifications wait for ``batch.finish()``; without one they are written at once.
    """
    b = batch if batch is not None else Batch(session)
    row = _apply(b, rule, signal, asset, notify)
    if batch is None:
        b.finish()
    return row


def _touch(b: Batch, row: AlarmRow, event: str, at: dt.datetime) -> None:
    if row.id is None:
        b.session.flush()
    earlier = b.events.get(row.id)
    if earlier is not None and earlier[1] == "raised" and event == "repeated":
        event = "raised"  # new in this batch: announced as raised, with its count
    b.events[row.id] = (row, event, at)


def _apply(b: Batch, rule: Rule, signal: Signal, asset: Asset, notify: bool) -> AlarmRow | None:
    at = _ms(signal.at_ms)
    row = b.current(asset.id, rule.key)
    if signal.action is Action.CLEAR:
        if row is None or row.state not in UNCLEARED:
            return None
        _clear(row, SYSTEM_ACTOR, at, signal.outcome, "")
        _touch(b, row, "cleared", at)
        return row
    notify = notify and (row is None or row.state == AlarmState.CLEARED_UNACKNOWLEDGED.value)
    if row is None:
        row = AlarmRow(
            asset_id=asset.id,
            kind=asset.kind,
            estate_id=asset.estate_id,
            building_id=asset.building_id,
            rule_key=rule.key,
            severity=rule.severity.value,
            state=AlarmState.ACTIVE.value,
            detail=signal.detail,
            value=signal.value,
            count=signal.count,
            first_at=at,
            last_at=at,
            note="",
        )
        b.session.add(row)
        b.rows[(asset.id, rule.key)] = row
        event = "raised"
    else:
        row.count += 1
        row.last_at = max(row.last_at, at)
        row.detail, row.value = signal.detail or row.detail, signal.value
        if row.state == AlarmState.CLEARED_UNACKNOWLEDGED.value:
            row.state, row.cleared_at, row.cleared_by = AlarmState.ACTIVE.value, None, None
        event = "repeated"
    if signal.outcome:
        row.outcome = signal.outcome
    _order_for(b.session, rule, asset, row, at)
    _touch(b, row, event, at)
    if notify:
        b.notify[row.id] = (row, asset, rule.severity is Severity.CRITICAL, at)
    return row


def _clear(row: AlarmRow, actor: str, at: dt.datetime, outcome: str | None, note: str) -> None:
    acked = row.state == AlarmState.ACKNOWLEDGED.value
    row.state = (AlarmState.CLEARED if acked else AlarmState.CLEARED_UNACKNOWLEDGED).value
    row.cleared_at, row.cleared_by = at, actor
    if outcome:
        row.outcome = outcome
    if note:
        row.note = f"{row.note}\n{note}".strip()


def get_alarm(session: Session, alarm_id: int) -> AlarmRow:
    row = session.get(AlarmRow, alarm_id)
    if row is None:
        raise AlarmNotFound(f"alarm {alarm_id} does not exist")
    return row


def acknowledge(session: Session, alarm_id: int, actor: str, at: dt.datetime, note: str = "") -> AlarmRow:
    row = get_alarm(session, alarm_id)
    if row.state == AlarmState.ACTIVE.value:
        row.state = AlarmState.ACKNOWLEDGED.value
    elif row.state == AlarmState.CLEARED_UNACKNOWLEDGED.value:
        row.state = AlarmState.CLEARED.value
    else:
        raise AlarmConflict(f"alarm {alarm_id} is already {row.state}: there is nothing to acknowledge")
    row.acknowledged_at, row.acknowledged_by = at, actor
    if note:
        row.note = f"{row.note}\n{note}".strip()
    session.flush()
    record_change(session, "alarm", {"event": "acknowledged", **alarm_payload(session, row)}, at)
    return row


def clear(
    session: Session, alarm_id: int, actor: str, at: dt.datetime, outcome: str | None = None, note: str = ""
) -> AlarmRow:
    """Clear by hand. Fire alarms need an ``outcome`` (false_alarm, fire, test); the order stays open."""
    row = get_alarm(session, alarm_id)
    if row.state not in UNCLEARED:
        raise AlarmConflict(f"alarm {alarm_id} is already {row.state}")
    if row.rule_key == "fire_alarm" and not (outcome or row.outcome):
        raise AlarmConflict(
            "a fire alarm is cleared with its outcome: send 'outcome' (false_alarm, fire or test)"
        )
    _clear(row, actor, at, outcome, note)
    session.flush()
    record_change(session, "alarm", {"event": "cleared", **alarm_payload(session, row)}, at)
    return row
