"""Statistics of datasets in one streaming pass: the same numbers as over all the
values at once, whatever the chunks."""

import math

import pytest
import torch

from atomtrain.data import statistics
from atomtrain.data.info import TargetInfo
from atomtrain.data.ondisk import DiskDataset
from atomtrain.data.ondisk_convert import ConvertTarget, convert
from atomtrain.data.statistics import RunningStatistics, dataset_statistics


def test_running_statistics_merge_chunks_exactly():
    values = torch.randn(1000, dtype=torch.float64) * 3.0 + 1e4
    values[17] = float("nan")
    running = RunningStatistics()
    for chunk in torch.split(values, [1, 300, 0, 2, 697]):
        running.add(chunk)
    finite = values[torch.isfinite(values)]
    assert running.count == 999
    assert running.mean == pytest.approx(float(finite.mean()), rel=1e-14)
    assert running.std == pytest.approx(float(finite.std()), rel=1e-10)
    assert (running.minimum, running.maximum) == (
        float(finite.min()),
        float(finite.max()),
    )
    empty = RunningStatistics().describe("x", "eV")
    assert empty.count == 0 and math.isnan(empty.mean)


def test_dataset_statistics_stream_over_chunks(tmp_path, resources, monkeypatch):
    energy = TargetInfo(quantity="energy", unit="eV")
    convert(
        [resources / "carbon_reduced_100.xyz"],
        tmp_path / "carbon",
        [ConvertTarget("energy", "energy", energy, "force", virial_key="virial")],
    )
    dataset = DiskDataset(tmp_path / "carbon")
    monkeypatch.setattr(statistics, "CHUNK", 7)
    found = dataset_statistics(dataset, "carbon")
    assert [t.name for t in found.targets] == [
        "energy",
        "energy forces",
        "energy strain gradient",
    ]
    assert [t.unit for t in found.targets] == ["eV", "eV/angstrom", "eV"]
    structures = [dataset[i] for i in range(len(dataset))]
    forces = torch.cat(
        [-s.targets["energy"].gradients["positions"].reshape(-1) for s in structures]
    )
    assert found.targets[1].count == forces.numel()
    assert found.targets[1].std == pytest.approx(float(forces.std()), rel=1e-10)
    energies = torch.cat(
        [s.targets["energy"].blocks[0].reshape(-1) for s in structures]
    )
    assert found.targets[0].mean == pytest.approx(float(energies.mean()), rel=1e-14)
    assert found.num_structures == 100 and found.elements == [6]
    assert found.files == (str(resources / "carbon_reduced_100.xyz"),)
