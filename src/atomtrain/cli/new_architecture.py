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
        "--author",
        metavar="'NAME <EMAIL>'",
        help="the author and maintainer written in __init__.py (default: a "
        "placeholder, which the conformance suite refuses until it is replaced)",
    )
    parser.add_argument(
        "--github",
        metavar="HANDLE",
        help="the author's GitHub handle, written in __init__.py with --author",
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
    scaffold = write_architecture(
        args.name, output, args.external, author=args.author, github=args.github
    )
    for path in scaffold.files:
        print(f"wrote {path}")
    steps = [f"run its tests: pytest {scaffold.tests}"]
    if args.external:
        root = scaffold.package.parents[1]
        steps.insert(0, f"install it: pip install -e {root}")
    steps.append(f"train it: 'architecture: {{name: {scaffold.name}}}' in the options")
    if scaffold.placeholder_people:
        steps.insert(
            0,
            f"replace the placeholder author in {scaffold.package / '__init__.py'} "
            "(the conformance suite refuses it), or write the architecture with "
            "--author 'Name <email>' --github handle",
        )
    if not any(p.suffix == ".ckpt" for p in scaffold.files):
        steps.insert(
            0,
            "the golden checkpoint could not be written here: run the "
            "tests once, they write it and say where to put it",
        )
    print("next:\n" + "\n".join(f"  - {step}" for step in steps))
    return 0
