"""``atomtrain new-architecture``: write a minimal architecture to start from."""

from __future__ import annotations

import argparse

HELP = "write the files of a new architecture that passes the conformance suite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the architecture's (Python package) name")
    parser.add_argument(
        "--external",
        action="store_true",
        help="write an installable package registering an atomtrain.architectures "
        "entry point, instead of an experimental architecture inside atomtrain",
    )
    parser.add_argument(
        "--output",
        metavar="DIR",
        help="where to write: the root of the atomtrain checkout (default: the one "
        "in use) or, with --external, the folder receiving the package (default: .)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..scaffold import write_architecture

    if args.output is not None:
        output = Path(args.output)
    elif args.external:
        output = Path.cwd()
    else:
        output = Path(__file__).resolve().parents[3]
    scaffold = write_architecture(args.name, output, args.external)
    for path in scaffold.files:
        print(f"wrote {path}")
    steps = [f"run its tests: pytest {scaffold.tests}"]
    if args.external:
        root = scaffold.package.parents[1]
        steps.insert(0, f"install it: pip install -e {root}")
    steps.append(f"train it: 'architecture: {{name: {scaffold.name}}}' in the options")
    if not any(p.suffix == ".ckpt" for p in scaffold.files):
        steps.insert(
            0,
            "the golden checkpoint could not be written here: run the "
            "tests once, they write it and say where to put it",
        )
    print("next:\n" + "\n".join(f"  - {step}" for step in steps))
    return 0
