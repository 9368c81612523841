"""Write the dashboards of ``dashboards.catalog`` as Grafana JSON files (one per dashboard, named by uid)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dashboards.catalog import all_dashboards

PACKAGE_DIR = Path(__file__).resolve().parent
JSON_DIR = PACKAGE_DIR / "json"
PROVISIONING_DIR = PACKAGE_DIR / "provisioning"


def render(model: dict[str, Any]) -> str:
    """Stable text for a dashboard model (sorted nowhere: Grafana keeps our key order; UTF-8 kept)."""
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name -> JSON text for every dashboard in the catalog."""
    out: dict[str, str] = {}
    for dashboard in all_dashboards():
        name = f"{dashboard.uid}.json"
        if name in out:
            raise ValueError(f"two dashboards share the uid {dashboard.uid!r}")
        out[name] = render(dashboard.to_json())
    return out


def generate(out_dir: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard to ``out_dir`` and delete generated files whose dashboard no longer exists."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = rendered()
    for old in out_dir.glob("facility-*.json"):
        if old.name not in files:
            old.unlink()
    written = []
    for name, text in files.items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def out_of_date(out_dir: Path = JSON_DIR) -> list[str]:
    """Names of files in ``out_dir`` that differ from what the generator would write (missing, stale, extra)."""
    files = rendered()
    on_disk = {p.name for p in out_dir.glob("facility-*.json")}
    bad = sorted(on_disk - files.keys())
    for name, text in files.items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            bad.append(name)
    return bad
