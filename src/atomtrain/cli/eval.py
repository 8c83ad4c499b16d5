"""``atomtrain eval``: evaluate an exported model on datasets (not built yet)."""

import argparse

from . import NotBuiltError

HELP = "evaluate an exported model on datasets, reporting errors and predictions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the exported model (.pt)")
    parser.add_argument("options", help="the YAML file describing the datasets")


def run(args: argparse.Namespace) -> int:
    raise NotBuiltError("eval")
