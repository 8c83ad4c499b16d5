"""Helpers of the metatomic architecture's tests (a module name of its own, as
``sys.path`` holds the helper folders of every test package)."""

from pathlib import Path

import ase.io

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo
from atomtrain.data.readers.ase import structures

RESOURCES = Path(__file__).parents[1] / "resources"


def ethanol(count: int = 6) -> InMemoryDataset:
    """The first ``count`` DFT ethanol frames, without labels."""
    path = str(RESOURCES / "ethanol_reduced_100.xyz")
    read = structures(ase.io.read(path, f":{count}"), path)
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={})
    return InMemoryDataset(read, info, [(path, i) for i in range(count)])
