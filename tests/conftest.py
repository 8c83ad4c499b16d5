"""Shared fixtures: paths of the real datasets shipped with the tests."""

import os
from pathlib import Path

import pytest

RESOURCES = Path(__file__).parent / "resources"
EXAMPLES_DATA = Path(__file__).parent.parent / "examples" / "data"


@pytest.fixture
def resources() -> Path:
    """Folder of the small real datasets (ethanol, carbon, qm9, qm7x)."""
    return RESOURCES


@pytest.fixture
def ethanol_gfn2() -> Path:
    """The 1000-frame ethanol GFN2-xTB trajectory (energy eV, forces eV/Å)."""
    return EXAMPLES_DATA / "ethanol_gfn2_1000.xyz"


@pytest.fixture
def dummy_architecture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register the engine's test architecture ``atomtrain.testing.dummy`` under the
    name 'dummy', the way an external package registers one: a distribution with an
    ``atomtrain.architectures`` entry point (also seen by subprocesses through
    ``PYTHONPATH``)."""
    site = tmp_path / "dummy-site"
    info = site / "atomtrain_dummy_registration-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: atomtrain-dummy-registration\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[atomtrain.architectures]\ndummy = atomtrain.testing.dummy\n"
    )
    monkeypatch.syspath_prepend(str(site))
    pythonpath = [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(pythonpath))
    return "dummy"
