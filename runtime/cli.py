"""The ``facility`` command. Each capability adds its own sub-commands through ``<package>.cli.register``.

User mistakes raise ``facility.cli.UserError`` (printed as one sentence, exit code 2, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from facility.cli import UserError

#: modules whose ``register(subparsers)`` adds sub-commands, in help order
COMMAND_MODULES = (
    "runtime.commands",
    "runtime.registry_cli",
    "simulators.cli",
    "ingest.cli",
    "maintenance.cli",
    "predict.cli",
    "predict.features_cli",
    "evaluation.cli",
    "dashboards.cli",
    "runtime.api",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facility", description="Facility monitoring and predictive maintenance for residential estates."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except UserError as exc:
        print(f"facility: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
