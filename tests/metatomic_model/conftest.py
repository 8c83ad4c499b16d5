"""Fixtures of the metatomic architecture's tests: exported models to fine-tune
(written once per session), and the real ethanol data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from handmade import export_handmade

from atomtrain.data.info import DatasetInfo, TargetInfo

#: The energy (eV, forces and stress) of the exported atomtrain models.
ENERGY_EV = TargetInfo(quantity="energy", unit="eV", gradients=("positions", "strain"))


@pytest.fixture(scope="session")
def handmade_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hand-made metatomic model of H, C and O (float64, eV, with last-layer
    features)."""
    return export_handmade(tmp_path_factory.mktemp("handmade") / "model.pt", [1, 6, 8])


@pytest.fixture(scope="session")
def pet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny atomtrain PET of H, C and O (untrained, float64), exported."""
    from atomtrain.architectures import get_defaults
    from atomtrain.pet import PET

    hypers = get_defaults("pet")["model"]
    hypers.update(
        d_pet=8,
        d_head=8,
        d_node=8,
        d_feedforward=8,
        num_heads=2,
        num_radial=4,
        cutoff=4.0,
        num_gnn_layers=1,
    )
    torch.manual_seed(0)
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": ENERGY_EV})
    path = tmp_path_factory.mktemp("pet") / "pet.pt"
    PET(hypers, info).to(torch.float64).export().save(str(path))
    return path


@pytest.fixture(scope="session")
def soap_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny atomtrain SOAP-BPNN of H, C and O (untrained, float64), exported."""
    from atomtrain.architectures import get_defaults, merge_hypers
    from atomtrain.soap_bpnn.model import SoapBpnn

    hypers = merge_hypers(
        get_defaults("soap_bpnn")["model"],
        {
            "soap": {"max_angular": 2, "max_radial": 2, "cutoff": {"radius": 4.0}},
            "bpnn": {"num_neurons_per_layer": 8},
        },
    )
    torch.manual_seed(0)
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": ENERGY_EV})
    path = tmp_path_factory.mktemp("soap") / "soap.pt"
    SoapBpnn(hypers, info).to(torch.float64).export().save(str(path))
    return path
