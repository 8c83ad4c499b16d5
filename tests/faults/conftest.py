"""Fault injection: bad inputs, full disks, read-only paths, kills and races.

Every test here drives ``atomtrain`` as a user would (through :func:`atomtrain`, the
command line in-process, or a subprocess where a kill is involved) and checks two
things: a user's fault is reported as a user error (``error: ...``, exit 1, never "a
bug in atomtrain"), and no file outside what atomtrain created changed
(:class:`Snapshot`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional

import pytest
import yaml

from atomtrain.cli.main import main

#: What the command line prints for an exception that is not a user error.
BUG_MARKER = "a bug in atomtrain"


@dataclass
class Outcome:
    """Exit code and captured output of one ``atomtrain`` command."""

    code: int
    out: str
    err: str

    def assert_user_error(self, *fragments: str) -> None:
        """Exit 1 with ``error: ...`` holding every fragment, and no bug report."""
        assert BUG_MARKER not in self.err, self.err
        assert self.code == 1, (self.code, self.out, self.err)
        assert self.err.startswith("error: ") or "\nerror: " in self.err, self.err
        for fragment in fragments:
            assert fragment in self.err, (fragment, self.err)


@pytest.fixture
def atomtrain(capsys: pytest.CaptureFixture[str]):
    """Run ``atomtrain ARGS...`` in-process; an :class:`Outcome`."""

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


class Snapshot:
    """Checksums of every file under ``root`` (but ``ignore``), to show that a
    command changed nothing it did not create."""

    def __init__(self, root: Path, ignore: Iterable[str] = ()) -> None:
        self.root = root
        self.ignore = tuple(ignore)
        self.files = self._read()

    def _read(self) -> Dict[str, str]:
        files = {}
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root).as_posix()
            if relative.startswith(self.ignore) or not path.is_file():
                continue
            files[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
        return files

    def changed(self) -> Dict[str, str]:
        """``{relative path: 'changed' | 'removed'}`` since the snapshot."""
        now = self._read()
        result = {}
        for name, digest in self.files.items():
            if name not in now:
                result[name] = "removed"
            elif now[name] != digest:
                result[name] = "changed"
        return result

    def assert_unchanged(self) -> None:
        assert self.changed() == {}


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


def write_options(
    path: Path,
    data: str = "ethanol.xyz",
    epochs: int = 1,
    training: Optional[dict] = None,
    **top_level,
) -> Path:
    """A small training options file for the dummy architecture on ``data``."""
    options = {
        "architecture": {
            "name": "dummy",
            "training": {"num_epochs": epochs, "batch_size": 10, **(training or {})},
        },
        "base_precision": 64,
        "seed": 3,
        "training_set": {
            "systems": data,
            "targets": {"energy": {"unit": "kcal/mol"}},
        },
        "validation_set": 0.1,
        "test_set": 0.1,
        **top_level,
    }
    path.write_text(yaml.safe_dump(options, sort_keys=False))
    return path


@pytest.fixture
def trained(workdir: Path, atomtrain) -> Path:
    """``workdir`` after one epoch of training: ``model.pt``, ``model.ckpt``,
    ``extensions/`` and ``outputs/``."""
    options = write_options(workdir / "options.yaml")
    outcome = atomtrain("train", options)
    assert outcome.code == 0, outcome.err
    return workdir


def environment_without_threads() -> Dict[str, str]:
    """The environment for a subprocess, with one thread per process."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}
