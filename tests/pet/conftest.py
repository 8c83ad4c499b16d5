"""Fixtures for the PET tests: the real ethanol and carbon data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

import ase
import ase.io
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pet_helpers import read_ethanol

from atomtrain.data.dataset import InMemoryDataset


@pytest.fixture
def ethanol(resources: Path) -> InMemoryDataset:
    return read_ethanol(resources / "ethanol_reduced_100.xyz")


@pytest.fixture
def carbon_frames(resources: Path) -> List[ase.Atoms]:
    return ase.io.read(resources / "carbon_reduced_100.xyz", ":")
