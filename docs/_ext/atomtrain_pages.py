"""Sphinx extension writing the generated pages before the build reads the sources.

- ``generated/options.md``: the options-file reference
  (:func:`atomtrain.schema.reference.render_options_reference`);
- ``generated/architectures/<name>.md``: one page per installed architecture
  (:func:`atomtrain.architectures.docpage.render_page`), whose reST description is
  kept as reST;
- ``generated/cli.md``: the help of ``atomtrain`` and of every subcommand, from their
  argument parsers;
- ``generated/guides.md``: the guides written beside this site that exist.

A file is only rewritten when its content changed, so incremental builds stay quick.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List

#: Guides written by others in ``docs/``, shown when present.
GUIDES = {
    "adding-an-architecture": "Adding an architecture",
    "distributed": "Distributed training",
}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def architecture_page(name: str) -> str:
    """The page of architecture ``name``, its reST description in an eval-rst block."""
    from atomtrain.architectures.docpage import render_page
    from atomtrain.architectures.docsource import read_architecture_doc

    page = render_page(name)
    description = read_architecture_doc(name).description
    if description:
        block = f"```{{eval-rst}}\n{description}\n```\n"
        page = page.replace(description + "\n", block, 1)
    return page


def architecture_pages(directory: Path) -> List[str]:
    """Write every architecture's page into ``directory``; their names."""
    from atomtrain.architectures.discovery import list_architectures

    names = [entry.name for entry in list_architectures()]
    for name in names:
        _write(directory / f"{name}.md", architecture_page(name))
    for stale in directory.glob("*.md"):
        if stale.stem not in names:
            stale.unlink()
    return names


def cli_page() -> str:
    """The command-line reference: ``--help`` of atomtrain and each subcommand."""
    from atomtrain.cli.main import COMMANDS, build_parser

    parts = [
        "# Command-line reference\n",
        "Every subcommand prints this help with `atomtrain COMMAND --help`. Errors in "
        "the input are printed as `error: ...` naming the file, key and structure, "
        "with exit code 1; `--debug` (before the subcommand) adds the traceback.\n",
        "```text\n" + build_parser().format_help() + "```\n",
    ]
    for name in COMMANDS:
        for action in build_parser(name)._actions:
            if isinstance(action, argparse._SubParsersAction):
                help_text = action.choices[name].format_help()
        parts.append(f"## atomtrain {name}\n")
        parts.append("```text\n" + help_text + "```\n")
    return "\n".join(parts)


def guides_page(srcdir: Path) -> str:
    """The table of contents of the guides present in ``srcdir``."""
    present = [
        (stem, title)
        for stem, title in GUIDES.items()
        if (srcdir / f"{stem}.md").is_file()
    ]
    lines = ["# Guides\n"]
    if present:
        lines.append("```{toctree}\n:maxdepth: 2\n")
        lines.extend(f"{title} <../{stem}>" for stem, title in present)
        lines.append("```\n")
    else:
        lines.append("The guides are not part of this build.\n")
    return "\n".join(lines)


def write_generated(srcdir: Path) -> None:
    """Write every generated page under ``srcdir/generated``."""
    from atomtrain.schema.reference import render_options_reference

    generated = srcdir / "generated"
    _write(generated / "options.md", render_options_reference())
    names = architecture_pages(generated / "architectures")
    index = ["# Architectures\n", "```{toctree}\n:maxdepth: 1\n"]
    index += [f"architectures/{name}" for name in names]
    index.append("```\n")
    _write(generated / "architectures.md", "\n".join(index))
    _write(generated / "cli.md", cli_page())
    _write(generated / "guides.md", guides_page(srcdir))


def _on_builder_inited(app: Any) -> None:
    write_generated(Path(app.srcdir))


def setup(app: Any) -> Dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
