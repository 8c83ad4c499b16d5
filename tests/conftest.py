"""Shared fixtures: paths of the real datasets shipped with the tests."""

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
