"""Editing rules in the store: validate (RuleError names the field), then insert or replace by scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from facility.contract import AssetKind
from maintenance.alarms.models import AlarmRuleRow
from maintenance.alarms.rules import Rule, RuleError, RuleType, Severity, effective
from maintenance.alarms.store import record_change, rule_from_row, stored_rules
from maintenance.domain import Priority
from maintenance.models import Asset, Estate


def _enum(field: str, cls: Any, value: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise RuleError(field, f"{field} must be one of {[v.value for v in cls]}, got {value!r}") from None


def scope_of(session: Session, kind: AssetKind, estate: str | None, asset: str | None) -> str:
    if estate and asset:
        raise RuleError("asset", "give an estate or an asset, not both")
    if asset:
        row = session.get(Asset, asset)
        if row is None:
            raise RuleError("asset", f"asset {asset!r} is not in the registry")
        if row.kind != kind.value:
            raise RuleError("asset", f"asset {asset!r} is a {row.kind}, not a {kind.value}")
        return f"asset:{asset}"
    if estate:
        if session.get(Estate, estate) is None:
            raise RuleError("estate", f"estate {estate!r} is not in the registry")
        return f"estate:{estate}"
    return "kind"


def rule_out(rule: Rule, row_id: int | None = None) -> dict[str, Any]:
    return {
        "id": row_id,
        "key": rule.key,
        "kind": rule.kind.value,
        "type": rule.type.value,
        "severity": rule.severity.value,
        "params": dict(rule.params),
        "order": rule.order.value if rule.order else None,
        "enabled": rule.enabled,
        "scope": rule.source,
    }


def upsert_rule(
    session: Session, body: dict[str, Any], actor: str, at: dt.datetime
) -> tuple[dict[str, Any], bool]:
    """Create or replace the rule ``body`` describes; returns (the rule, created)."""
    kind = _enum("kind", AssetKind, body.get("kind"))
    key = body.get("key")
    if not isinstance(key, str) or not 1 <= len(key) <= 64:
        raise RuleError("key", "key must be a name of 1-64 characters")
    scope = scope_of(session, kind, body.get("estate"), body.get("asset"))
    order = body.get("order")
    params = body.get("params")
    if not isinstance(params, dict):
        raise RuleError("params", "params must be an object")
    rule = Rule(
        key,
        kind,
        _enum("type", RuleType, body.get("type")),
        _enum("severity", Severity, body.get("severity")),
        params,
        _enum("order", Priority, order) if order is not None else None,
        bool(body.get("enabled", True)),
        scope,
    )
    row = session.scalars(
        sa.select(AlarmRuleRow).where(
            AlarmRuleRow.kind == kind.value, AlarmRuleRow.key == key, AlarmRuleRow.scope == scope
        )
    ).first()
    created = row is None
    if row is None:
        row = AlarmRuleRow(kind=kind.value, key=key, scope=scope)
        session.add(row)
    row.type, row.severity, row.params = rule.type.value, rule.severity.value, dict(rule.params)
    row.order_priority = rule.order.value if rule.order else None
    row.enabled, row.updated_at, row.updated_by = rule.enabled, at, actor
    session.flush()
    record_change(session, "rules", {"event": "rules", "kind": kind.value, "key": key, "scope": scope}, at)
    return rule_out(rule_from_row(row), row.id), created


def delete_rule(session: Session, rule_id: int, at: dt.datetime) -> bool:
    row = session.get(AlarmRuleRow, rule_id)
    if row is None:
        return False
    session.delete(row)
    record_change(
        session, "rules", {"event": "rules", "kind": row.kind, "key": row.key, "scope": row.scope}, at
    )
    return True


def rules_in_force(
    session: Session, kind: AssetKind, estate: str | None = None, asset: str | None = None
) -> list[dict[str, Any]]:
    """The effective rules of ``kind`` (for one estate or asset when given), with their source."""
    if asset is not None:
        row = session.get(Asset, asset)
        if row is None:
            raise RuleError("asset", f"asset {asset!r} is not in the registry")
        estate = row.estate_id
    ids = {(r.kind, r.key, r.scope): r.id for r in session.scalars(sa.select(AlarmRuleRow))}
    rules = effective(kind, estate or "", asset or "", stored_rules(session))
    return [rule_out(r, ids.get((r.kind.value, r.key, r.source))) for r in rules]
