"""``atomtrain doc``: list the architectures, or show or write their documentation."""

from __future__ import annotations

import argparse

HELP = "list the architectures, or print the documentation page of one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name",
        nargs="?",
        help="architecture to document, e.g. 'composition' or 'experimental.X'",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="DIR",
        help="write the Markdown pages (all of them, or NAME's only) into DIR",
    )


def listing() -> str:
    """One line per architecture, grouped by maturity; imports no architecture."""
    from atomtrain.architectures.discovery import MATURITIES, list_architectures

    entries = list_architectures()
    if not entries:
        return "no architecture is installed"
    width = max(len(entry.name) for entry in entries)
    lines = []
    for maturity in MATURITIES:
        group = [entry for entry in entries if entry.maturity == maturity]
        if not group:
            continue
        lines.append(f"{maturity}:")
        for entry in group:
            source = f" [{entry.distribution}]" if entry.distribution else ""
            lines.append(f"  {entry.name:<{width}}  {entry.description}{source}")
    lines.append("")
    lines.append("'atomtrain doc NAME' shows the hyperparameters of one of them")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from atomtrain.architectures.docpage import render_page, write_pages

    if args.output is not None:
        if args.name is None:
            paths = write_pages(args.output)
        else:
            from pathlib import Path

            from atomtrain.files import write_text

            path = Path(args.output) / f"{args.name}.md"
            paths = [write_text(path, render_page(args.name), "-o")]
        for path in paths:
            print(f"wrote {path}")
        return 0
    print(listing() if args.name is None else render_page(args.name))
    return 0
