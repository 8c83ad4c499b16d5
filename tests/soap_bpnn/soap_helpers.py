"""Helpers of the SOAP-BPNN tests: real data read through atomtrain's own dataset
sections, and model evaluations on batches built by the engine's batch builder."""

from pathlib import Path
from typing import Any, Dict, List, Sequence

import torch
from metatomic.torch import ModelOutput

from atomtrain.architectures.hypers import get_defaults
from atomtrain.data.batching import Batch, BatchBuilder
from atomtrain.data.dataset import Dataset, InMemoryDataset
from atomtrain.data.loading import load_section
from atomtrain.data.readers import FileCache
from atomtrain.options.datasets import expand_dataset_section
from atomtrain.soap_bpnn import SoapBpnn

RESOURCES = Path(__file__).parents[1] / "resources"

#: Small hypers: a fast model that still has every part (l up to 3, two layers).
TINY: Dict[str, Any] = {
    "soap": {
        "max_angular": 3,
        "max_radial": 3,
        "cutoff": {"radius": 4.0, "width": 1.0},
    },
    "bpnn": {"num_hidden_layers": 2, "num_neurons_per_layer": 16, "layernorm": True},
    "heads": {},
    "spherical_channels": 3,
    "long_range": get_defaults("soap_bpnn")["model"]["long_range"],
    "zbl": False,
}


def read(section: Dict[str, Any]) -> InMemoryDataset:
    sections, problems = expand_dataset_section(section, "training_set", RESOURCES)
    assert problems == []
    return load_section(sections[0], FileCache())


def ethanol_dataset() -> InMemoryDataset:
    """The 100 ethanol conformers: energy and forces in kcal/mol."""
    return read(
        {
            "systems": "ethanol_reduced_100.xyz",
            "targets": {"energy": {"unit": "kcal/mol", "forces": "on"}},
        }
    )


def carbon_dataset() -> InMemoryDataset:
    """The 100 periodic carbon structures: energy, forces and virial in eV."""
    return read(
        {
            "systems": "carbon_reduced_100.xyz",
            "targets": {
                "energy": {
                    "unit": "eV",
                    "forces": {"key": "force"},
                    "virial": {"key": "virial"},
                }
            },
        }
    )


def tiny_model(dataset: Dataset, seed: int = 0, **changes: Any) -> SoapBpnn:
    """A float64 model with :data:`TINY` hypers (top-level keys replaced by
    ``changes``) and seeded random weights."""
    torch.manual_seed(seed)
    hypers = {**TINY, **changes}
    return SoapBpnn(hypers, dataset.info).to(torch.float64)  # type: ignore[arg-type]


def batch_of(
    model: SoapBpnn,
    dataset: Dataset,
    indices: Sequence[int],
    gradients: Sequence[str] = (),
    labels: bool = True,
) -> Batch:
    """Structures ``indices`` of ``dataset`` as a float64 batch with the model's
    neighbour lists (and the labels, unless ``labels`` is false)."""
    targets = dataset.info.targets if labels else {}
    builder = BatchBuilder(
        model.requested_neighbor_lists(), targets, dtype=torch.float64
    )
    return builder(dataset, list(indices), gradients)


def energies(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Per-structure energies ``[n_structures]`` of ``batch``."""
    outputs = model(batch.systems, {"energy": ModelOutput()}, None)
    return outputs["energy"].block().values[:, 0]


def structures_energies(
    model: SoapBpnn, dataset: Dataset, indices: Sequence[int]
) -> List[float]:
    return energies(model, batch_of(model, dataset, indices)).tolist()
