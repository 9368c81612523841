from ingest.security import Account, render_acl


def _account(name: str, role: str, prefix: str = "") -> Account:
    return Account(name, role, prefix, "$7$101$x$y", 0)


def test_acl_confines_devices_and_lets_maintenance_publish_only_orders_and_escalations() -> None:
    acl = render_acl(
        [
            _account("el1", "device", "facility/e/b/elevator/el1"),
            _account("maintenance", "maintenance"),
            _account("ingest", "ingest"),
            Account("gone", "device", "facility/e/b/elevator/gone", "h", 0, revoked_at_ms=5),
        ]
    )
    blocks = {b.split("\n")[0]: b.split("\n")[1:] for b in acl.split("\nuser ")[1:]}
    assert blocks["el1"] == ["topic write facility/e/b/elevator/el1/#", ""]
    assert blocks["ingest"] == ["topic read facility/#", ""]
    assert blocks["maintenance"] == [
        "topic read facility/#",
        "topic write facility/crews/#",
        "topic write facility/escalations/#",
        "topic write facility/engineers/#",
        "",
    ]
    assert "gone" not in blocks
