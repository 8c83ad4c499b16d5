"""Sphinx extension running the tutorials of ``examples/tutorials/`` for their pages.

Each tutorial is a plain Python script; ``docs/tutorials/<name>.md`` shows it with
``literalinclude`` and shows the figures it wrote. Nothing it produces is committed:
before the build reads the sources, every tutorial whose outputs are missing or stale
is run, into ``docs/_build/tutorials/<name>/`` of the checkout holding the scripts
(git-ignored), and its script and figures are copied next to the pages, into
``docs/tutorials/_outputs/<name>/`` (git-ignored too).

Outputs are stale when the script or any file of the ``atomtrain`` package changed
since they were written (:func:`fingerprint`), so the tutorial tests
(``tests/examples/test_tutorials.py``) and the docs build share one run: whichever
comes first runs the script, the other reads what it wrote. A tutorial that fails
stops the build with the end of its output.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

#: Environment variable giving a tutorial the directory to work and write in.
OUTPUT_VARIABLE = "ATOMTRAIN_TUTORIAL_OUTPUT"
#: File in an output directory holding the fingerprint and the run time.
STAMP = "tutorial-run.json"
#: Everything the tutorial printed.
LOG = "output.txt"
#: Files copied next to the pages.
SHOWN_SUFFIXES = (".png",)


class TutorialFailed(RuntimeError):
    """A tutorial script exited with an error."""


@dataclass(frozen=True)
class TutorialRun:
    """The outputs of one tutorial: where they are, whether this call ran the
    script, and how long the run that wrote them took (seconds)."""

    name: str
    directory: Path
    ran: bool
    seconds: float


def checkout() -> Path:
    """The checkout holding the tutorials: the one of the imported ``atomtrain``
    package (``src/atomtrain`` → the repository root), so that a copy of ``docs/``
    built elsewhere still finds the scripts and their data."""
    import atomtrain

    return Path(atomtrain.__file__).resolve().parents[2]


def scripts(root: Optional[Path] = None) -> List[Path]:
    """The tutorial scripts, in the order of their names."""
    directory = (root or checkout()) / "examples" / "tutorials"
    return sorted(p for p in directory.glob("*.py") if not p.name.startswith("_"))


def fingerprint(script: Path) -> str:
    """SHA-256 over the script and every source file of the ``atomtrain`` package:
    outputs written under another fingerprint are stale."""
    import atomtrain

    package = Path(atomtrain.__file__).resolve().parent
    digest = hashlib.sha256(script.read_bytes())
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".yaml", ".json") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def output_directory(script: Path) -> Path:
    """Where the outputs of ``script`` are kept: ``docs/_build/tutorials/<name>``
    of the checkout holding it."""
    return script.resolve().parents[2] / "docs" / "_build" / "tutorials" / script.stem


def _stamp(directory: Path) -> Dict[str, Any]:
    try:
        return dict(json.loads((directory / STAMP).read_text()))
    except (OSError, ValueError):
        return {}


def _execute(script: Path, directory: Path) -> float:
    """Run ``script`` with ``directory`` as its output; the wall time in seconds.
    Raises :class:`TutorialFailed` with the end of its output when it fails."""
    import time

    environment = dict(os.environ, **{OUTPUT_VARIABLE: str(directory)})
    environment.setdefault("MPLBACKEND", "Agg")
    # one thread: the tutorials are small, and threads competing for the cores of
    # a shared machine make them many times slower
    environment.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    with open(directory / LOG, "w") as log:
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=directory,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        tail = (directory / LOG).read_text()[-4000:]
        raise TutorialFailed(
            f"the tutorial {script} failed (exit code {result.returncode}); the end "
            f"of its output:\n{tail}"
        )
    return seconds


def run_tutorial(script: Path, force: bool = False) -> TutorialRun:
    """The outputs of ``script``, running it first when they are missing, stale or
    ``force`` is set. The run happens in a temporary directory that replaces the
    outputs only once the script succeeded."""
    directory = output_directory(script)
    expected = fingerprint(script)
    stamp = _stamp(directory)
    if not force and stamp.get("fingerprint") == expected:
        return TutorialRun(script.stem, directory, False, float(stamp["seconds"]))
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{script.stem}-", dir=directory.parent))
    try:
        seconds = _execute(script, work)
        (work / STAMP).write_text(
            json.dumps({"fingerprint": expected, "seconds": seconds}, indent=2)
        )
        if directory.exists():
            shutil.rmtree(directory)
        work.rename(directory)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return TutorialRun(script.stem, directory, True, seconds)


def copy_for_pages(run: TutorialRun, script: Path, pages: Path) -> Path:
    """Copy the script and the figures of ``run`` into ``pages/_outputs/<name>``,
    rewriting only what changed; the directory."""
    target = pages / "_outputs" / run.name
    target.mkdir(parents=True, exist_ok=True)
    wanted = [script] + [
        p for p in sorted(run.directory.iterdir()) if p.suffix in SHOWN_SUFFIXES
    ]
    for source in wanted:
        destination = target / source.name
        data = source.read_bytes()
        if not destination.is_file() or destination.read_bytes() != data:
            destination.write_bytes(data)
    names = {p.name for p in wanted}
    for stale in target.iterdir():
        if stale.name not in names:
            stale.unlink()
    return target


def _on_builder_inited(app: Any) -> None:
    from sphinx.errors import ExtensionError

    pages = Path(app.srcdir) / "tutorials"
    for script in scripts():
        try:
            run = run_tutorial(script)
        except TutorialFailed as error:
            raise ExtensionError(str(error)) from None
        copy_for_pages(run, script, pages)


def setup(app: Any) -> Dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
