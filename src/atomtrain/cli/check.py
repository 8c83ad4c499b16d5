"""``atomtrain check``: validate options and lint every dataset without training."""

from __future__ import annotations

import argparse

from .train import add_override_argument

HELP = "check an options file and its datasets without training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("options", help="the YAML options file")
    add_override_argument(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..workflows.check import check_options

    table, findings = check_options(Path(args.options), args.override)
    print(table)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    for finding in [*errors, *warnings]:
        print(finding)
    print(f"{len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0
