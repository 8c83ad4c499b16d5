"""Where a command writes, checked before it works, and the extensions directory.

Before ``train``, ``export`` or ``eval`` does anything, :func:`check_command_outputs`
refuses every output that is one of the command's inputs (a data file, the options file,
the checkpoint being exported, the model being evaluated), that is not a regular file,
or whose directory cannot be written.

Compiled extensions (``-e``): metatomic's own collection deletes the directory it is
given, so atomtrain never hands it a user's path. Extensions are collected into a
directory atomtrain creates (the run directory's ``extensions/``, or a scratch
directory), then merged into the user's directory file by file: new files are added
atomically, identical ones are left, and nothing is removed. A directory that holds
anything but compiled libraries, one that holds the outputs root or the working
directory, and a library that differs from the one already there (another model needs
that one) are refused with the reason.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Optional, Tuple

from ..files import OutputError, check_outputs, check_writable_directory, copy_file

#: Files a directory of compiled extensions may hold: shared libraries.
_LIBRARY = re.compile(r"\.(so(\.[0-9A-Za-z_]+)*|dylib|dll|pyd)$")


def input_paths(options: Any) -> List[Path]:
    """Every file an options tree reads (each ``read_from`` value, and the files of
    each on-disk dataset it names)."""
    found: List[Path] = []
    if isinstance(options, dict):
        for key, value in options.items():
            if key == "read_from" and isinstance(value, str):
                found.append(Path(value))
                if Path(value).is_dir():
                    found.extend(p for p in Path(value).rglob("*") if p.is_file())
            else:
                found.extend(input_paths(value))
    elif isinstance(options, list):
        for value in options:
            found.extend(input_paths(value))
    return found


def _foreign_entries(directory: Path) -> List[Path]:
    """Files under ``directory`` that are not compiled libraries."""
    return [
        path
        for path in sorted(directory.rglob("*"))
        if not path.is_dir() and not _LIBRARY.search(path.name)
    ]


def check_extensions_directory(
    directory: Optional[Path], protected: Iterable[Tuple[str, Path]] = ()
) -> None:
    """Refuse ``-e directory`` when it is a file, holds files that are not compiled
    extensions, or is (or holds) one of the ``protected`` directories (``(what,
    path)`` pairs: the outputs root, the working directory)."""
    if directory is None:
        return
    where = directory.absolute()
    for what, path in protected:
        inside = path.absolute()
        if where == inside or where in inside.parents:
            relation = "is" if where == inside else "holds"
            raise OutputError(
                f"-e '{directory}' {relation} {what}: give the compiled extensions "
                "a directory of their own (the default is extensions/)"
            )
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"-e '{directory}' is not a directory")
    if directory.is_dir():
        foreign = _foreign_entries(directory)
        if foreign:
            shown = ", ".join(f"'{p.relative_to(directory)}'" for p in foreign[:3])
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise OutputError(
                f"-e '{directory}' holds files that are not compiled extensions "
                f"({shown}{more}); atomtrain collects extensions only into an empty "
                "or new directory, or one holding extensions: choose another -e"
            )


def merge_extensions(collected: Path, target: Path) -> List[Path]:
    """Add the libraries under ``collected`` to ``target`` (atomically, file by
    file), leaving identical files and everything else there; the files added.
    Refuses, before copying anything, a library that differs from the one at the
    same place in ``target``."""
    files = [p for p in sorted(collected.rglob("*")) if p.is_file()]
    for source in files:
        existing = target / source.relative_to(collected)
        if existing.exists() and not filecmp.cmp(source, existing, shallow=False):
            raise OutputError(
                f"the extension '{existing}' differs from the one this model needs "
                "(another build, which other models may need): it was left as it "
                "is; export with another -e directory"
            )
    added = []
    for source in files:
        destination = target / source.relative_to(collected)
        if not destination.exists():
            copy_file(source, destination, "extension")
            added.append(destination)
    return added


@contextlib.contextmanager
def scratch_directory(parent: Path) -> Iterator[Path]:
    """A path for a directory atomtrain creates and removes afterwards, named so that
    :func:`atomtrain.files.remove_stale_temporaries` recognises it."""
    path = parent / f".{os.getpid()}-{secrets.token_hex(8)}.extensions"
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_command_outputs(
    outputs: Iterable[Tuple[str, Optional[Path]]],
    inputs: Iterable[Path],
    extensions: Optional[Path] = None,
    protected: Iterable[Tuple[str, Path]] = (),
) -> None:
    """Everything a command will write, checked before it starts: the outputs
    (``(option, path)`` pairs; ``None`` paths skipped) against the inputs, and the
    extensions directory."""
    check_outputs(
        [(what, path) for what, path in outputs if path is not None], list(inputs)
    )
    check_extensions_directory(extensions, protected)
    if extensions is not None:
        check_writable_directory(extensions, "-e")
