"""Fixtures of the MACE tests: the real ethanol data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mace_helpers import read_ethanol

from atomtrain.data.dataset import InMemoryDataset


@pytest.fixture
def ethanol(resources: Path) -> InMemoryDataset:
    return read_ethanol(resources / "ethanol_reduced_100.xyz")
