"""Fixtures of the SOAP-BPNN tests: the real ethanol and carbon data."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from soap_helpers import carbon_dataset, ethanol_dataset

from atomtrain.data.dataset import InMemoryDataset


@pytest.fixture(scope="session")
def ethanol() -> InMemoryDataset:
    """The 100 ethanol conformers: energy and forces in kcal/mol."""
    return ethanol_dataset()


@pytest.fixture(scope="session")
def carbon() -> InMemoryDataset:
    """The 100 periodic carbon structures: energy, forces and virial in eV."""
    return carbon_dataset()
