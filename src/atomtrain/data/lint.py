"""Checks of datasets before training: what ``atomtrain check`` reports.

Each check is a pure function of a :class:`Dataset` returning :class:`Finding` s; each
finding names the file and the structure index in that file. Errors make ``check``
fail; warnings are reported and do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Literal, Optional, Sequence

import numpy as np
import torch
from metatomic.torch import unit_conversion_factor

from .dataset import Dataset
from .info import TargetInfo
from .statistics import CHUNK
from .validity import (
    OVERLAP_DISTANCE_ANGSTROM,
    nonfinite_labels,
    overlapping_atoms,
    pairs_within,
)

Severity = Literal["error", "warning"]

#: Robust z-score above which a structure's residual energy per atom is an outlier.
OUTLIER_Z_SCORE = 8.0
#: Largest stress (in GPa) taken as physically plausible for training data.
PLAUSIBLE_STRESS_GPA = 1000.0
#: How many structures a finding lists before saying "and N more".
MAX_LISTED = 5


@dataclass(frozen=True)
class Finding:
    """One problem found in a dataset."""

    severity: Severity
    dataset: str
    message: str
    structures: Sequence[str] = ()

    def __str__(self) -> str:
        listed = list(self.structures[:MAX_LISTED])
        more = len(self.structures) - len(listed)
        where = ""
        if listed:
            where = ": " + "; ".join(listed)
            if more > 0:
                where += f"; and {more} more"
        return f"{self.severity}: {self.dataset}: {self.message}{where}"


def check_finite_labels(dataset: Dataset, name: str) -> List[Finding]:
    """NaN or infinite labels (a whole-NaN stress marks a missing stress: allowed),
    looked for :data:`CHUNK` structures at a time."""
    findings = []
    for target in list(dataset.info.targets) + list(dataset.info.extra_data):
        bad: List[int] = []
        for start in range(0, len(dataset), CHUNK):
            data = []
            for i in range(start, min(start + CHUNK, len(dataset))):
                structure = dataset[i]
                data.append(
                    structure.targets.get(target) or structure.extra_data[target]
                )
            found = nonfinite_labels(data).values()
            bad += sorted({start + i for part in found for i in part})
        if bad:
            findings.append(
                Finding(
                    "error",
                    name,
                    f"NaN or infinite values in '{target}'",
                    [dataset.describe(i) for i in bad],
                )
            )
    return findings


def _isolated_atoms(dataset: Dataset, cutoff: float) -> List[str]:
    """The structures with atoms that have no neighbour within ``cutoff``."""
    isolated = []
    for i in range(len(dataset)):
        structure = dataset[i]
        if len(structure) < 2:
            continue
        pairs, _ = pairs_within(
            structure.positions.numpy(),
            structure.cell.numpy(),
            structure.pbc.numpy(),
            cutoff,
        )
        lonely = np.setdiff1d(np.arange(len(structure)), pairs[:, 0])
        if len(lonely) > 0:
            atoms = ", ".join(str(a) for a in lonely[:MAX_LISTED])
            isolated.append(f"{dataset.describe(i)} (atoms {atoms})")
    return isolated


def check_geometry(
    dataset: Dataset, name: str, cutoff: Optional[float] = None
) -> List[Finding]:
    """Overlapping atoms (error) and, given the model's ``cutoff`` (in the dataset's
    length unit), atoms without any neighbour within it (warning)."""
    overlapping = [dataset.describe(i) for i in sorted(overlapping_atoms(dataset))]
    isolated = [] if cutoff is None else _isolated_atoms(dataset, cutoff)
    findings = []
    if overlapping:
        findings.append(
            Finding(
                "error",
                name,
                f"atoms closer than {OVERLAP_DISTANCE_ANGSTROM} Å",
                overlapping,
            )
        )
    if isolated:
        findings.append(
            Finding(
                "warning",
                name,
                f"atoms without neighbours within the cutoff ({cutoff} "
                f"{dataset.info.length_unit})",
                isolated,
            )
        )
    return findings


def _robust_z_scores(values: np.ndarray) -> np.ndarray:
    median = np.median(values)
    mad = np.median(np.abs(values - median)) * 1.4826
    if mad == 0.0:
        return np.zeros_like(values)
    return np.abs(values - median) / mad


def check_energy_outliers(dataset: Dataset, name: str) -> List[Finding]:
    """Structures whose energy per atom, after removing a per-element least-squares
    fit, is far from the others (robust z-score above :data:`OUTLIER_Z_SCORE`)."""
    findings: List[Finding] = []
    types = dataset.info.atomic_types
    if len(dataset) < 10 or not types:
        return findings
    lookup = {t: k for k, t in enumerate(types)}
    counts = np.zeros((len(dataset), len(types)))
    for i in range(len(dataset)):
        for atomic_type, count in zip(
            *np.unique(dataset[i].types.numpy(), return_counts=True)
        ):
            counts[i, lookup[int(atomic_type)]] = count
    n_atoms = counts.sum(axis=1)
    for target, info in dataset.info.targets.items():
        if not info.is_energy:
            continue
        energies = np.array(
            [
                float(dataset[i].targets[target].blocks[0][0, 0])
                for i in range(len(dataset))
            ]
        )
        keep = np.isfinite(energies)
        if keep.sum() < 10:
            continue
        weights, *_ = np.linalg.lstsq(counts[keep], energies[keep], rcond=None)
        residual = (energies - counts @ weights) / n_atoms
        z = _robust_z_scores(residual[keep])
        outliers = np.flatnonzero(keep)[z > OUTLIER_Z_SCORE]
        if len(outliers) > 0:
            findings.append(
                Finding(
                    "warning",
                    name,
                    f"'{target}' per atom is an outlier (robust z-score > "
                    f"{OUTLIER_Z_SCORE:g} after a per-element fit)",
                    [dataset.describe(int(i)) for i in outliers],
                )
            )
    return findings


def _stress_to_gpa(info: TargetInfo, length_unit: str) -> float:
    energy = float(unit_conversion_factor(info.unit, "eV"))
    length = float(unit_conversion_factor(length_unit, "angstrom"))
    return energy / length**3 * float(unit_conversion_factor("eV/angstrom^3", "GPa"))


def check_stress_magnitudes(dataset: Dataset, name: str) -> List[Finding]:
    """Stress (strain gradient / volume) beyond :data:`PLAUSIBLE_STRESS_GPA`: usually a
    unit mistake (virial given as stress, or a wrong energy unit)."""
    findings = []
    for target, info in dataset.info.targets.items():
        if "strain" not in info.gradients or not info.unit:
            continue
        to_gpa = _stress_to_gpa(info, dataset.info.length_unit)
        implausible = []
        for i in range(len(dataset)):
            structure = dataset[i]
            strain = structure.targets[target].gradients.get("strain")
            volume = abs(float(torch.linalg.det(structure.cell)))
            if strain is None or volume == 0.0 or bool(torch.isnan(strain).all()):
                continue
            largest = float(strain.abs().max()) / volume * to_gpa
            if math.isfinite(largest) and largest > PLAUSIBLE_STRESS_GPA:
                implausible.append(f"{dataset.describe(i)} ({largest:.3g} GPa)")
        if implausible:
            findings.append(
                Finding(
                    "warning",
                    name,
                    f"stress of '{target}' above {PLAUSIBLE_STRESS_GPA:g} GPa in "
                    f"{info.unit} per {dataset.info.length_unit}^3: check the units",
                    implausible,
                )
            )
    return findings


def check_missing_labels(dataset: Dataset, name: str) -> List[Finding]:
    """Targets labelled in some structures only (NaN values in the others)."""
    findings = []
    for target in dataset.info.targets:
        missing = [
            dataset.describe(i)
            for i in range(len(dataset))
            if all(
                bool(torch.isnan(b).all()) for b in dataset[i].targets[target].blocks
            )
        ]
        if missing and len(missing) < len(dataset):
            findings.append(Finding("warning", name, f"'{target}' is missing", missing))
    return findings


def check_elements_covered(
    training: Sequence[Dataset],
    others: Dict[str, Sequence[Dataset]],
    declared_types: Sequence[int] = (),
) -> List[Finding]:
    """Elements in validation or test sets that no training structure contains (and
    that the options do not declare in ``architecture.atomic_types``)."""
    seen = set(int(t) for t in declared_types)
    for dataset in training:
        for i in range(len(dataset)):
            seen.update(int(t) for t in torch.unique(dataset[i].types))
    findings = []
    for split, datasets in others.items():
        for k, dataset in enumerate(datasets):
            unseen: Dict[int, List[str]] = {}
            for i in range(len(dataset)):
                for t in torch.unique(dataset[i].types).tolist():
                    if t not in seen:
                        unseen.setdefault(int(t), []).append(dataset.describe(i))
            for atomic_type, where in sorted(unseen.items()):
                findings.append(
                    Finding(
                        "error",
                        f"{split}[{k}]",
                        f"element with atomic number {atomic_type} is absent from the "
                        "training set",
                        where,
                    )
                )
    return findings


def lint_dataset(
    dataset: Dataset, name: str, cutoff: Optional[float] = None
) -> List[Finding]:
    """Every per-dataset check."""
    return [
        *check_finite_labels(dataset, name),
        *check_missing_labels(dataset, name),
        *check_geometry(dataset, name, cutoff),
        *check_energy_outliers(dataset, name),
        *check_stress_magnitudes(dataset, name),
    ]
