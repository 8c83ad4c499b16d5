"""``atomtrain eval``: errors and predictions of any metatomic model on datasets."""

from __future__ import annotations

import argparse

HELP = "evaluate an exported model on datasets, reporting errors and predictions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the exported metatomic model (.pt)")
    parser.add_argument(
        "options",
        help="YAML file with the dataset(s) to evaluate on, in the grammar of a "
        "training set: a file name, a section with systems and targets, or a list; "
        "or an on-disk dataset (a directory written by atomtrain convert)",
    )
    parser.add_argument(
        "-o",
        "--output",
        help="write the predictions: .xyz/.extxyz (energy in info, forces in arrays) "
        "or .mts (one file per target)",
    )
    parser.add_argument(
        "-p",
        "--plot",
        help="write a parity plot and error histograms of every labelled target (PNG)",
    )
    parser.add_argument(
        "--per-structure",
        metavar="CSV",
        help="write the errors of each structure (index, number of atoms, energy "
        "error, per atom, force RMSE and MAE) as CSV",
    )
    parser.add_argument(
        "-b", "--batch-size", type=int, default=16, help="structures per batch"
    )
    parser.add_argument(
        "-e",
        "--extensions",
        help="directory of the compiled extensions the model needs",
    )
    parser.add_argument("--device", default="cpu", help="device to evaluate on")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..workflows.evaluate import format_metrics
    from ..workflows.evaluate_files import evaluate_files

    for done in evaluate_files(
        Path(args.model),
        Path(args.options),
        output=Path(args.output) if args.output else None,
        batch_size=args.batch_size,
        extensions=Path(args.extensions) if args.extensions else None,
        device=args.device,
        plot=Path(args.plot) if args.plot else None,
        per_structure=Path(args.per_structure) if args.per_structure else None,
    ):
        print(format_metrics(done.name, done.evaluation))
        for path in done.predictions:
            print(f"wrote predictions to {path}")
        if done.plot is not None:
            print(f"wrote a parity plot to {done.plot}")
        if done.per_structure is not None:
            print(f"wrote the errors of each structure to {done.per_structure}")
    return 0
