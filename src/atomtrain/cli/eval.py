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
        help="write the predictions beside the labels: .xyz/.extxyz (energy and "
        "energy_label in info, forces and forces_label in arrays) or .mts (one file "
        "per target); with the chemiscope package installed, also "
        "<name>.chemiscope.json.gz, a parity view that opens in chemiscope",
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
        "--log",
        metavar="FILE",
        help="write everything eval prints (command line, versions, model, "
        "datasets, errors, files written) to FILE; by default <name>.log beside the "
        "predictions of -o, and no log without -o",
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

    from ..workflows.evaluate_files import EvaluationOutputs, evaluate_files

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    outputs = EvaluationOutputs(
        predictions=path(args.output),
        plot=path(args.plot),
        per_structure=path(args.per_structure),
        log=path(args.log),
    )
    # the workflow reports each dataset (through atomtrain's logger) as it is done
    for _ in evaluate_files(
        Path(args.model),
        Path(args.options),
        outputs,
        batch_size=args.batch_size,
        extensions=path(args.extensions),
        device=args.device,
        command_line=args.command_line,
    ):
        pass
    return 0
