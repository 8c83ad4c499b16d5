"""``atomtrain export``: a checkpoint's best model as a metatomic model file."""

from __future__ import annotations

import argparse

HELP = "export a checkpoint as a metatomic model for MD engines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="the checkpoint (.ckpt) to export")
    parser.add_argument(
        "-o",
        "--output",
        help="the exported model file (default: the checkpoint's name with .pt)",
    )
    parser.add_argument(
        "-m",
        "--metadata",
        help="YAML file with name, description, authors, references and extra "
        "metadata merged over the architecture's own",
    )
    parser.add_argument(
        "-e",
        "--extensions",
        default="extensions",
        help="directory collecting the compiled extensions the model needs "
        "(default: extensions/)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..workflows.export import export_checkpoint

    checkpoint = Path(args.checkpoint)
    output = Path(args.output) if args.output else checkpoint.with_suffix(".pt")
    export_checkpoint(
        checkpoint,
        output,
        metadata=Path(args.metadata) if args.metadata else None,
        extensions=Path(args.extensions) if args.extensions else None,
    )
    print(f"exported {checkpoint} to {output}")
    return 0
