"""Debian packages the project needs, installed on demand at set-up."""

from __future__ import annotations

import os
import shutil
import subprocess

#: executable -> Debian package that provides it
REQUIRED = {
    "mosquitto": ("mosquitto", "/usr/sbin/mosquitto"),
    "mosquitto_passwd": ("mosquitto", "/usr/bin/mosquitto_passwd"),
    "influxd": ("influxdb", "/usr/bin/influxd"),
    "chromium": ("chromium", "/usr/bin/chromium"),
    # not an executable: a CJK font, so pages and PDF reports show estate names in Chinese
    "cjk-font": ("fonts-wqy-zenhei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
}


class MissingPackage(RuntimeError):
    pass


def find(executable: str) -> str | None:
    found = shutil.which(executable)
    if found:
        return found
    fallback = REQUIRED.get(executable, ("", ""))[1]
    return fallback if fallback and os.path.exists(fallback) else None


def require(executable: str) -> str:
    path = find(executable)
    if path is None:
        package = REQUIRED.get(executable, (executable, ""))[0]
        raise MissingPackage(
            f"{executable} is not installed: run `make setup` (or `sudo apt-get install {package}`)"
        )
    return path


def ensure(executables: list[str]) -> list[str]:
    """apt-get install whatever is missing (with sudo when not root); returns the packages installed."""
    missing = sorted({REQUIRED[e][0] for e in executables if find(e) is None})
    if not missing:
        return []
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "update", "-q"], check=True, env=env)
    subprocess.run([*prefix, "apt-get", "install", "-y", "-q", *missing], check=True, env=env)
    return missing
