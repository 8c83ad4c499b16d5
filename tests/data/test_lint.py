import ase.io
import numpy as np
import pytest
import torch

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.lint import (
    check_elements_covered,
    check_energy_outliers,
    check_finite_labels,
    check_geometry,
    check_stress_magnitudes,
    lint_dataset,
)
from atomtrain.data.statistics import dataset_statistics, format_statistics
from atomtrain.data.structure import Structure, TargetData


def _label(atoms, key):
    """A per-structure value, from ``info`` or from the single-point calculator that
    ASE's extxyz reader fills."""
    if key in atoms.info:
        return atoms.info[key]
    return atoms.calc.results[key]


def _dataset(frames, file, energy_key="energy", virial_key=None, unit="eV"):
    structures = []
    for atoms in frames:
        gradients = {}
        if virial_key is not None:
            virial = torch.tensor(np.array(_label(atoms, virial_key)).reshape(3, 3))
            gradients["strain"] = -virial[..., None]
        structures.append(
            Structure(
                types=torch.tensor(atoms.numbers, dtype=torch.int32),
                positions=torch.tensor(atoms.positions),
                cell=torch.tensor(np.array(atoms.cell)),
                pbc=torch.tensor(atoms.pbc),
                targets={
                    "energy": TargetData(
                        [torch.tensor([[float(_label(atoms, energy_key))]])], gradients
                    )
                },
            )
        )
    gradients = ("strain",) if virial_key else ()
    info = DatasetInfo(
        "angstrom",
        sorted({int(z) for a in frames for z in a.numbers}),
        {"energy": TargetInfo("energy", unit, gradients=gradients)},
    )
    return InMemoryDataset(structures, info, [(file, i) for i in range(len(frames))])


@pytest.fixture
def ethanol(resources):
    return ase.io.read(resources / "ethanol_reduced_100.xyz", ":")


def test_clean_ethanol_has_no_errors(ethanol):
    dataset = _dataset(ethanol, "ethanol.xyz", unit="kcal/mol")
    findings = lint_dataset(dataset, "training_set", cutoff=5.0)
    assert [f for f in findings if f.severity == "error"] == []


def test_nan_energy_is_named_by_structure(ethanol):
    ethanol[7].calc.results["energy"] = float("nan")
    findings = check_finite_labels(_dataset(ethanol, "ethanol.xyz"), "training_set")
    assert len(findings) == 1
    assert findings[0].severity == "error"
    assert "structure 7 of 'ethanol.xyz'" in str(findings[0])
    assert "structure 6 " not in str(findings[0])


def test_overlapping_atoms_are_named_by_structure(ethanol):
    ethanol[3].positions[1] = ethanol[3].positions[0] + [0.2, 0.0, 0.0]
    findings = check_geometry(_dataset(ethanol, "ethanol.xyz"), "training_set")
    assert len(findings) == 1
    assert "structure 3 of 'ethanol.xyz'" in str(findings[0])
    assert "closer than 0.5" in str(findings[0])


def test_isolated_atom_is_a_warning(ethanol):
    ethanol[2].positions[0] += [20.0, 0.0, 0.0]
    findings = check_geometry(_dataset(ethanol, "e.xyz"), "training_set", cutoff=4.0)
    assert [f.severity for f in findings] == ["warning"]
    assert "structure 2 of 'e.xyz' (atoms 0)" in str(findings[0])


def test_energy_outlier_is_found(ethanol):
    ethanol[11].calc.results["energy"] += 5000.0
    findings = check_energy_outliers(_dataset(ethanol, "e.xyz"), "training_set")
    assert len(findings) == 1
    assert "structure 11 of 'e.xyz'" in str(findings[0])
    assert "structure 10 " not in str(findings[0])


def test_carbon_virial_is_plausible_but_a_wrong_unit_is_not(resources):
    frames = ase.io.read(resources / "carbon_reduced_100.xyz", ":")
    dataset = _dataset(frames, "carbon.xyz", virial_key="virial")
    assert check_stress_magnitudes(dataset, "training_set") == []
    wrong = _dataset(frames, "carbon.xyz", virial_key="virial", unit="kJ/mol")
    wrong.info.targets["energy"] = TargetInfo(
        "energy", "Hartree", gradients=("strain",)
    )
    findings = check_stress_magnitudes(wrong, "training_set")
    assert findings and "check the units" in str(findings[0])


def test_elements_absent_from_training(resources, ethanol):
    qm9 = ase.io.read(resources / "qm9_reduced_100.xyz", ":")
    training = _dataset(ethanol, "ethanol.xyz", unit="kcal/mol")
    test = _dataset(qm9, "qm9.xyz", energy_key="U0")
    findings = check_elements_covered([training], {"test_set": [test]})
    expected = sorted({int(z) for a in qm9 for z in a.numbers} - {1, 6, 8})
    assert expected
    assert [f.message for f in findings] == [
        f"element with atomic number {z} is absent from the training set"
        for z in expected
    ]
    first = next(i for i, a in enumerate(qm9) if expected[0] in a.numbers)
    assert f"structure {first} of 'qm9.xyz'" in str(findings[0])
    assert check_elements_covered([training], {"test_set": [test]}, expected) == []


def test_statistics_table(ethanol):
    dataset = _dataset(ethanol, "ethanol.xyz", unit="kcal/mol")
    stats = dataset_statistics(dataset, "training_set")
    assert stats.num_structures == 100 and stats.num_atoms == 900
    assert stats.elements == [1, 6, 8]
    energies = [_label(a, "energy") for a in ethanol]
    assert stats.targets[0].mean == pytest.approx(np.mean(energies))
    table = format_statistics([stats])
    assert "100 structures, 900 atoms" in table and "kcal/mol" in table
    assert "\n  read from 'ethanol.xyz'\n" in table
