"""``atomtrain train``: train a model from an options file."""

from __future__ import annotations

import argparse

HELP = "train a model from an options file"


def add_override_argument(parser: argparse.ArgumentParser) -> None:
    """``-r/--override KEY=VALUE``, shared by the commands that read options."""
    parser.add_argument(
        "-r",
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an option, e.g. -r architecture.training.num_epochs=5 "
        "(the value is read as YAML; repeatable)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("options", help="the YAML options file")
    parser.add_argument(
        "-o",
        "--output",
        default="model.pt",
        help="where to write the exported model (default: model.pt); the "
        "checkpoint goes next to it with the suffix .ckpt",
    )
    parser.add_argument(
        "-e",
        "--extensions",
        default="extensions",
        help="directory collecting the compiled extensions the model needs "
        "(default: extensions/)",
    )
    parser.add_argument(
        "--restart",
        metavar="PATH|auto",
        help="continue training from a checkpoint; 'auto' takes the newest "
        "checkpoint of the newest run under outputs/",
    )
    parser.add_argument(
        "--outputs",
        default="outputs",
        help="root of the run directories outputs/<date>/<time>/ (default: outputs)",
    )
    add_override_argument(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..workflows.train import train

    train(
        Path(args.options),
        overrides=args.override,
        output=Path(args.output),
        extensions=Path(args.extensions) if args.extensions else None,
        restart=args.restart,
        outputs_root=Path(args.outputs),
        command_line=args.command_line,
    )
    return 0
