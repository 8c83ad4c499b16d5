"""``atomtrain convert``: stream structure files into an on-disk dataset.

    atomtrain convert INPUT [INPUT ...] OUTPUT [--append] [--energy KEY]
        [--energy-unit UNIT] [--forces KEY] [--stress KEY | --virial KEY]
        [--target NAME=KEY[,rank=N][,per-atom][,subtargets=N][,unit=U][,quantity=Q]]
        [--length-unit UNIT]

Every INPUT (a file ASE reads, an ASE database ``.db``, a glob pattern of them, or
an on-disk dataset to merge) is read one structure at a time, so inputs larger than
memory convert in bounded memory, with a progress bar on a terminal. ``--energy``
stores a target named ``energy`` with the forces (stored as dE/dr = -forces) and the
stress (stored as V · stress) or the virial (stored as -virial). ``--target`` adds a
generic target: a per-structure scalar unless ``rank`` (Cartesian rank 1 or 2) or
``per-atom`` say otherwise. Without target options, the targets of the datasets
merged (or appended to) are kept. OUTPUT must not exist, unless ``--append`` adds to
it; it is created (or changed) only when the conversion succeeds. Train on it with
``read_from: OUTPUT`` in a dataset section.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, List, Optional

from ..errors import UserError

if TYPE_CHECKING:
    from ..data.ondisk_convert import ConvertTarget

HELP = "convert structure files into an on-disk dataset for large data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="INPUT ... OUTPUT: files, ASE databases, glob patterns or datasets",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="add the structures to the existing dataset OUTPUT",
    )
    parser.add_argument("--energy", metavar="KEY", help="key of the energy")
    parser.add_argument("--energy-unit", default="eV", metavar="UNIT")
    parser.add_argument("--forces", metavar="KEY", help="key of the forces")
    stress = parser.add_mutually_exclusive_group()
    stress.add_argument("--stress", metavar="KEY", help="key of the stress")
    stress.add_argument("--virial", metavar="KEY", help="key of the virial")
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME=KEY[,OPTION...]",
        help="a generic target; options: rank=1|2, per-atom, subtargets=N, unit=U, "
        "quantity=Q",
    )
    parser.add_argument(
        "--length-unit",
        default=None,
        metavar="UNIT",
        help="unit of the positions in the files (default: the dataset's, or angstrom)",
    )


def parse_targets(args: argparse.Namespace) -> Optional[List[ConvertTarget]]:
    """The targets described by the command-line arguments (None when none is:
    those of the datasets merged or appended to are kept)."""
    from ..data.info import TargetInfo
    from ..data.ondisk_convert import ConvertTarget

    targets = []
    if args.energy is not None:
        targets.append(
            ConvertTarget(
                name="energy",
                key=args.energy,
                info=TargetInfo(quantity="energy", unit=args.energy_unit),
                forces_key=args.forces,
                stress_key=args.stress,
                virial_key=args.virial,
            )
        )
    elif args.forces or args.stress or args.virial:
        raise UserError("--forces, --stress and --virial need --energy")
    targets.extend(parse_target(text) for text in args.target)
    if not targets:
        return None
    names = [t.name for t in targets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"target {duplicates[0]!r} is given more than once")
    return targets


def parse_target(text: str) -> ConvertTarget:
    """``NAME=KEY[,rank=N][,per-atom][,subtargets=N][,unit=U][,quantity=Q]``."""
    from ..data.info import TargetInfo
    from ..data.ondisk_convert import ConvertTarget

    head, *options = text.split(",")
    if "=" not in head:
        raise UserError(f"--target '{text}': expected NAME=KEY")
    name, key = (part.strip() for part in head.split("=", 1))
    if not name or not key:
        raise UserError(f"--target '{text}': expected NAME=KEY")
    fields = {"rank": "0", "subtargets": "1", "unit": "", "quantity": ""}
    per_atom = False
    for option in options:
        option = option.strip()
        if option == "per-atom":
            per_atom = True
            continue
        option_name, _, value = option.partition("=")
        if option_name not in fields or not value:
            raise UserError(
                f"--target '{text}': unknown option '{option}'; expected rank=N, "
                "per-atom, subtargets=N, unit=U or quantity=Q"
            )
        fields[option_name] = value
    try:
        rank, subtargets = int(fields["rank"]), int(fields["subtargets"])
    except ValueError as error:
        raise UserError(
            f"--target '{text}': rank and subtargets are integers"
        ) from error
    if rank not in (0, 1, 2) or subtargets < 1:
        raise UserError(f"--target '{text}': rank is 0, 1 or 2 and subtargets ≥ 1")
    info = TargetInfo(
        quantity=fields["quantity"],
        unit=fields["unit"],
        sample_kind="atom" if per_atom else "system",
        kind="cartesian" if rank > 0 else "scalar",
        rank=rank,
        num_subtargets=subtargets,
    )
    return ConvertTarget(name=name, key=key, info=info)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..workflows.convert import convert_inputs

    if len(args.paths) < 2:
        raise UserError("convert needs at least one INPUT and an OUTPUT")
    *inputs, output = args.paths
    targets = parse_targets(args)
    count = convert_inputs(inputs, Path(output), targets, args.length_unit, args.append)
    verb = "appended" if args.append else "wrote"
    print(f"{verb} {count} structures to '{output}'")
    return 0
