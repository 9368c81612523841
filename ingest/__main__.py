"""``python -m ingest``: one ingest worker in the foreground (what ``facility ingest`` runs per worker)."""

from __future__ import annotations

import sys

from ingest.cli import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
