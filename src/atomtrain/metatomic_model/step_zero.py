"""The step-0 check: before the first update, the model's energies and forces equal
those of metatomic's ASE calculator on the original file.

What the engine computes (atomtrain's batches, neighbour lists, unit conversion and
autograd) and what any engine running the exported file computes must agree before
training starts; a difference (a model that reads inputs atomtrain does not give it,
neighbour lists that differ) is an error rather than a silently worse fine-tuning.
"""

from __future__ import annotations

import logging
from typing import List, Sequence, Tuple

import ase
import numpy as np
import torch
from metatomic.torch import unit_conversion_factor
from metatomic_ase import MetatomicCalculator

from atomtrain.data.dataset import Dataset, InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure

from .model import MetatomicModel
from .pretrained import predict_energies
from .wrapped import WrappedModelError

LOGGER = logging.getLogger("atomtrain.training")

#: Training structures compared (the calculator runs them one at a time).
CHECKED_STRUCTURES = 20


def tolerance(dtypes: Sequence[torch.dtype]) -> float:
    """1e-6 relative when every dtype involved is float64, 1e-4 otherwise."""
    return 1e-6 if all(d == torch.float64 for d in dtypes) else 1e-4


def relative_difference(ours: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute difference relative to the largest reference value."""
    scale = max(float(np.abs(reference).max(initial=0.0)), 1e-12)
    return float(np.abs(ours - reference).max(initial=0.0)) / scale


def _atoms(structure: Structure, length_unit: str) -> ase.Atoms:
    """``structure`` (lengths in ``length_unit``) as ASE atoms (in ångström)."""
    to_angstrom = unit_conversion_factor(length_unit, "angstrom")
    return ase.Atoms(
        numbers=structure.types.numpy(),
        positions=structure.positions.numpy() * to_angstrom,
        cell=structure.cell.numpy() * to_angstrom,
        pbc=structure.pbc.numpy(),
    )


def _first_structures(datasets: Sequence[Dataset], count: int) -> List[Structure]:
    structures: List[Structure] = []
    for dataset in datasets:
        for index in range(min(len(dataset), count - len(structures))):
            structures.append(dataset.geometry(index))
    return structures


def _engine_predictions(
    model: MetatomicModel, structures: List[Structure]
) -> Tuple[np.ndarray, np.ndarray]:
    """The energies ``[n]`` and forces ``[n_atoms * 3]`` of ``structures``
    computed by atomtrain's batches and autograd, in eV and eV/Å."""
    unit = model.model_units["energy"]
    # the dataset's energy unit when energy is a target (the correction is not
    # fitted yet: it adds nothing), the model's otherwise
    factor = model.factors.get("energy", 1.0)
    target = model.dataset_info.targets.get("energy")
    info = TargetInfo(
        quantity="energy",
        unit=unit if target is None else target.unit,
        gradients=("positions",),
    )
    data = InMemoryDataset(
        structures,
        DatasetInfo(
            length_unit=model.dataset_info.length_unit,
            atomic_types=model.atomic_types,
            targets={},
        ),
        [("step-0", i) for i in range(len(structures))],
    )
    predicted = predict_energies(model, data, "energy", info, forces=True)
    to_ev = unit_conversion_factor(unit, "eV") / factor
    # forces per dataset length unit, to per ångström
    per_angstrom = unit_conversion_factor("angstrom", model.dataset_info.length_unit)
    energies = np.array([float(p.energy) * to_ev for p in predicted])
    forces = [
        -p.gradient.numpy().reshape(-1) * to_ev * per_angstrom
        for p in predicted
        if p.gradient is not None
    ]
    return energies, np.concatenate(forces)


def _calculator_predictions(
    model: MetatomicModel, structures: List[Structure]
) -> Tuple[np.ndarray, np.ndarray]:
    """The energies and forces of ``structures`` by :class:`MetatomicCalculator` on
    the model's file, in eV and eV/Å."""
    calculator = MetatomicCalculator(
        model.hypers["path"],
        extensions_directory=model.hypers.get("extensions"),
        device=str(next(model.parameters()).device),
    )
    energies, forces = [], []
    for structure in structures:
        atoms = _atoms(structure, model.dataset_info.length_unit)
        atoms.calc = calculator
        # the calculator symmetrises a stress that molecules do not have (NaN)
        with np.errstate(invalid="ignore"):
            energies.append(atoms.get_potential_energy())
            forces.append(atoms.get_forces().reshape(-1))
    return np.array(energies), np.concatenate(forces)


def check_step_zero(
    model: MetatomicModel, datasets: Sequence[Dataset]
) -> Tuple[float, float]:
    """Compare ``model`` (the pretrained weights, no correction fitted yet) with
    :class:`MetatomicCalculator` on ``model.hypers['path']`` for the first training
    structures; log the largest relative differences of energies and forces and
    return them. Raises :class:`WrappedModelError` above :func:`tolerance`."""
    structures = _first_structures(datasets, CHECKED_STRUCTURES)
    if not structures:
        return 0.0, 0.0
    ours_e, ours_f = _engine_predictions(model, structures)
    ref_e, ref_f = _calculator_predictions(model, structures)
    energy = relative_difference(ours_e, ref_e)
    forces = relative_difference(ours_f, ref_f)
    model_dtype = (
        torch.float64 if model.capabilities.dtype == "float64" else torch.float32
    )
    limit = tolerance([next(model.parameters()).dtype, model_dtype])
    summary = (
        f"step-0 check on {len(structures)} training structures against "
        f"MetatomicCalculator('{model.hypers['path']}'): largest relative "
        f"difference {energy:.2g} in energies, {forces:.2g} in forces "
        f"(tolerance {limit:g})"
    )
    if energy > limit or forces > limit:
        raise WrappedModelError(
            summary + ": the model does not predict in training what it predicts in "
            "an engine; it may read inputs or neighbour lists atomtrain does not "
            "give it"
        )
    LOGGER.info(summary)
    return energy, forces
