"""PET's smooth cutoff: finite first and second derivatives everywhere, eagerly and
in an exported model whose forces are trained by gradient descent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from atomtrain.architectures import get_defaults
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure
from atomtrain.pet import PET
from atomtrain.pet.modules import log_cutoff
from atomtrain.training.predict import evaluation_batches, predict

#: Distances around a cutoff of 4 with a width of 0.5: inside, at the inner edge of
#: the switching region, in it, and just inside the cutoff.
DISTANCES = [1.0, 3.5, 3.5001, 3.9, 3.99999, 3.9999999]


@pytest.mark.parametrize("bump", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_second_derivative_of_the_cutoff_is_finite(
    bump: bool, dtype: torch.dtype
) -> None:
    distances = torch.tensor(DISTANCES, dtype=dtype, requires_grad=True)
    log_fc = log_cutoff(distances, torch.tensor(4.0, dtype=distances.dtype), 0.5, bump)
    (first,) = torch.autograd.grad(log_fc.sum(), distances, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), distances)
    assert torch.isfinite(log_fc).all()
    assert torch.isfinite(first).all() and torch.isfinite(second).all()
    values = log_fc.detach()
    assert float(values[0]) == 0.0 and float(values[-1]) < -10.0


def dimers() -> InMemoryDataset:
    """C-O dimers at the distances of :data:`DISTANCES` (a pair in each region of
    the cutoff)."""
    structures = [
        Structure(
            types=torch.tensor([6, 8], dtype=torch.int32),
            positions=torch.tensor(
                [[0.0, 0.0, 0.0], [0.0, 0.0, d]], dtype=torch.float64
            ),
            cell=torch.zeros(3, 3, dtype=torch.float64),
            pbc=torch.zeros(3, dtype=torch.bool),
        )
        for d in DISTANCES
    ]
    info = DatasetInfo(atomic_types=[6, 8], targets={})
    return InMemoryDataset(structures, info, [("dimers", i) for i in range(6)])


@pytest.mark.parametrize("function", ["Bump", "Cosine"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forces_of_the_exported_pet_train_with_finite_gradients(
    function: str, dtype: torch.dtype, tmp_path: Path
) -> None:
    """The exported PET (TorchScript) loaded back: the gradient of a loss on its
    forces with respect to its parameters is finite."""
    from metatomic.torch import load_atomistic_model

    hypers = get_defaults("pet")["model"]
    hypers.update(
        d_pet=8,
        d_head=8,
        d_node=8,
        d_feedforward=8,
        num_heads=2,
        num_radial=4,
        cutoff=4.0,
        cutoff_width=0.5,
        cutoff_function=function,
    )
    energy = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))
    info = DatasetInfo(atomic_types=[6, 8], targets={"energy": energy})
    torch.manual_seed(0)
    PET(hypers, info).to(dtype).export().save(str(tmp_path / "pet.pt"))
    exported = load_atomistic_model(str(tmp_path / "pet.pt"))
    module = exported.module
    for parameter in module.parameters():
        parameter.requires_grad_(True)
    batches = evaluation_batches(
        dimers(),
        exported.requested_neighbor_lists(),
        {},
        dtype,
        "cpu",
        6,
        ("positions",),
    )
    for batch in batches:
        result = predict(
            module,
            batch,
            {"energy": energy},
            True,
            unlabelled_gradients={"energy": ["positions"]},
        )
        forces = result["energy"].block().gradient("positions").values
        (forces**2).sum().backward()
    gradients = [p.grad for p in module.parameters() if p.grad is not None]
    assert gradients
    assert all(bool(torch.isfinite(g).all()) for g in gradients)
