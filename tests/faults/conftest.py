"""Fault injection: bad inputs, full disks, read-only paths, kills and races.

Every test here drives ``atomtrain`` as a user would (through :func:`atomtrain`, the
command line in-process, or a subprocess where a kill is involved) and checks two
things: a user's fault is reported as a user error (``error: ...``, exit 1, never "a
bug in atomtrain"), and no file outside what atomtrain created changed
(:class:`Snapshot`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fault_helpers import Outcome, write_options

from atomtrain.cli.main import main


@pytest.fixture
def atomtrain(capsys: pytest.CaptureFixture[str]):
    """Run ``atomtrain ARGS...`` in-process; an :class:`Outcome`."""

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dummy_architecture):
    """A working directory holding a copy of ethanol (kcal/mol), with the engine's
    test architecture registered as ``dummy``."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(
        Path(__file__).parent.parent / "resources" / "ethanol_reduced_100.xyz",
        tmp_path / "ethanol.xyz",
    )
    return tmp_path


@pytest.fixture
def trained(workdir: Path, atomtrain) -> Path:
    """``workdir`` after one epoch of training: ``model.pt``, ``model.ckpt``,
    ``extensions/`` and ``outputs/``."""
    options = write_options(workdir / "options.yaml")
    outcome = atomtrain("train", options)
    assert outcome.code == 0, outcome.err
    return workdir
