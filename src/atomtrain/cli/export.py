"""``atomtrain export``: export a checkpoint as a metatomic model (not built yet)."""

import argparse

from . import NotBuiltError

HELP = "export a checkpoint as a metatomic model for MD engines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="the checkpoint (.ckpt) to export")


def run(args: argparse.Namespace) -> int:
    raise NotBuiltError("export")
