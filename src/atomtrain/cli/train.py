"""``atomtrain train``: train a model from an options file (not built yet)."""

import argparse

from . import NotBuiltError

HELP = "train a model from an options file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("options", help="the YAML options file")
    parser.add_argument(
        "-r",
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an option, e.g. -r architecture.training.num_epochs=5 "
        "(the value is read as YAML; repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    raise NotBuiltError("train")
