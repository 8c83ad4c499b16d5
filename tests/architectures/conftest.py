"""Fixtures: a throw-away root package holding test architectures at every maturity."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from archbuilder import write_package

from atomtrain.architectures import discovery


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh package standing in for ``atomtrain`` as the home of architectures.

    It holds empty ``experimental`` and ``deprecated`` sub-packages and a
    non-architecture package ``data``; tests add architectures with ``archbuilder``.
    """
    name = f"fakeat_{uuid.uuid4().hex[:8]}"
    write_package(tmp_path, name, {})
    for sub in ("experimental", "deprecated", "data"):
        write_package(tmp_path, f"{name}.{sub}", {})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(discovery, "ROOT_PACKAGE", name)
    monkeypatch.setattr(discovery, "_WARNED_DEPRECATED", set())
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]
