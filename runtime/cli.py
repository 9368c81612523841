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


#: the module that registers each command: ``facility <command>`` imports only that one (a service starts
#: without loading every capability); a command missing here still works, all modules are then loaded
COMMAND_OWNERS = {
    "setup": "runtime.commands",
    "services": "runtime.commands",
    "demo": "runtime.commands",
    "worker": "runtime.commands",
    "registry": "runtime.registry_cli",
    "simulate": "simulators.cli",
    "history": "simulators.cli",
    "ingest": "ingest.cli",
    "devices": "ingest.cli",
    "db": "maintenance.cli",
    "tokens": "maintenance.cli",
    "crews": "maintenance.cli",
    "maintenance": "maintenance.cli",
    "users": "maintenance.cli",
    "backtest": "predict.cli",
    "train": "predict.cli",
    "train-telemetry": "predict.cli",
    "plan": "predict.cli",
    "models": "predict.cli",
    "features": "predict.features_cli",
    "rating": "evaluation.cli",
    "ledger": "evaluation.cli",
    "external": "evaluation.cli",
    "report": "evaluation.cli",
    "dashboards": "dashboards.cli",
    "api": "runtime.api",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``argv``'s command only when ``COMMAND_OWNERS`` knows it."""
    parser = argparse.ArgumentParser(
        prog="facility", description="Facility monitoring and predictive maintenance for residential estates."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    first = argv[0] if argv else None
    modules = [COMMAND_OWNERS[first]] if first in COMMAND_OWNERS else COMMAND_MODULES
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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
