"""Helpers of the fault-injection tests: outcomes of commands, file checksums, a
small options file."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional

import yaml

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


def environment_without_threads() -> Dict[str, str]:
    """The environment for a subprocess, with one thread per process."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}
