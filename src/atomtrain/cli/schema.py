"""``atomtrain schema``: write the JSON schema of the options file, for editors."""

from __future__ import annotations

import argparse

HELP = "write the JSON schema of the options file, for editors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the schema to FILE (default: print it); point an editor at it "
        "with a first line '# yaml-language-server: $schema=FILE' in the options file",
    )


def run(args: argparse.Namespace) -> int:
    import json

    from atomtrain.schema import options_schema, write_schema

    if args.output is None:
        print(json.dumps(options_schema(), indent=2, ensure_ascii=False))
        return 0
    path = write_schema(args.output)
    print(f"wrote {path}")
    return 0
