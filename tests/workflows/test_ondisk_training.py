"""Training, evaluating and checking on on-disk datasets through the command line:
``atomtrain convert`` then ``atomtrain train`` gives the run of the source file."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from atomtrain.cli.main import main

CONVERT = [
    "convert",
    "ethanol_reduced_100.xyz",
    "ds",
    "--energy",
    "energy",
    "--energy-unit",
    "kcal/mol",
    "--forces",
    "forces",
]


@pytest.fixture
def workdir(tmp_path, monkeypatch, dummy_architecture, resources):
    """A working directory with ethanol (kcal/mol) and its conversion ``ds``."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(resources / "ethanol_reduced_100.xyz", tmp_path)
    assert main(CONVERT) == 0
    return tmp_path


def _options(path: Path, **sets: Any) -> Path:
    options = {
        "architecture": {
            "name": "dummy",
            "training": {"num_epochs": 2, "batch_size": 8},
        },
        "base_precision": 64,
        "seed": 11,
        "validation_set": 0.1,
        "test_set": 0.1,
        **sets,
    }
    path.write_text(yaml.safe_dump(options, sort_keys=False))
    return path


def _rows(run: Path) -> List[Dict[str, str]]:
    with open(run / "train.csv") as file:
        return list(csv.DictReader(file))


def _only_run(outputs: Path) -> Path:
    (run,) = [p for p in outputs.glob("*/*") if p.is_dir()]
    return run


def _assert_same_numbers(first: List[Dict[str, str]], second: List[Dict[str, str]]):
    assert len(first) == len(second) == 3  # the units row, then two epochs
    for a, b in zip(first, second):
        assert a.keys() == b.keys()
        for key in a:
            try:
                assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-6), key
            except ValueError:
                assert a[key] == b[key]


def test_convert_then_train_gives_the_run_of_the_source_file(workdir, capsys):
    from_disk = _options(workdir / "disk.yaml", training_set={"systems": "ds"})
    from_file = _options(
        workdir / "file.yaml",
        training_set={
            "systems": "ethanol_reduced_100.xyz",
            "targets": {"energy": {"unit": "kcal/mol"}},
        },
    )
    assert main(["train", str(from_disk), "-o", "disk.pt"]) == 0
    output = capsys.readouterr().out
    assert "final errors on the test set" in output and "energy.forces.rmse" in output
    assert (workdir / "disk.pt").is_file() and (workdir / "disk.ckpt").is_file()
    shutil.move(workdir / "outputs", workdir / "outputs-disk")
    disk_run = _only_run(workdir / "outputs-disk")
    assert main(["train", str(from_file), "-o", "file.pt"]) == 0
    file_run = _only_run(workdir / "outputs")
    _assert_same_numbers(_rows(disk_run), _rows(file_run))
    for split in ("training", "validation", "test"):
        name = "training.txt" if split == "training" else f"{split}.txt"
        assert (disk_run / "indices" / name).read_text() == (
            file_run / "indices" / name
        ).read_text()

    capsys.readouterr()
    assert main(["eval", "disk.pt", "ds", "-o", "predictions.xyz"]) == 0
    evaluated = capsys.readouterr().out
    assert "energy.forces.mae" in evaluated and (workdir / "predictions.xyz").is_file()
    assert main(["check", str(from_disk)]) == 0
    assert "training_set: 80 structures" in capsys.readouterr().out


def test_sections_on_a_dataset_mixed_with_files(workdir, capsys):
    options = _options(
        workdir / "mixed.yaml",
        training_set=[
            {"systems": "ds", "indices": list(range(0, 60))},
            {
                "systems": "ethanol_reduced_100.xyz",
                "targets": {"energy": {"unit": "kcal/mol", "forces": "on"}},
                "indices": list(range(60, 80)),
            },
        ],
        validation_set={"systems": "ds", "indices": list(range(80, 90))},
        test_set={
            "systems": {"read_from": "ds"},
            "targets": {"energy": {"forces": "off"}},
        },
    )
    assert main(["train", str(options)]) == 0
    output = capsys.readouterr().out
    assert "final errors on the training[1] set" in output
    assert "final errors on the validation set" in output
    assert _errors(output, "test") == ["energy.rmse", "energy.mae"]
    assert "energy.forces.rmse" in _errors(output, "validation")


def _errors(output: str, split: str) -> List[str]:
    """The names of the final errors printed for ``split``."""
    lines = output.split(f"final errors on the {split} set:\n")[1].splitlines()
    names = []
    for line in lines:
        if not line.startswith("  ") or "=" not in line:
            break
        names.append(line.split("=")[0].strip())
    return names


@pytest.mark.parametrize(
    ("validation", "fragments"),
    [
        (
            {
                "systems": "ethanol_reduced_100.xyz",
                "targets": {"energy": {"unit": "eV"}},
            },
            [
                "validation_set.targets.energy.unit: differs from 'kcal/mol' in "
                "training_set ('{root}/ds')",
                "(here '{root}/ethanol_reduced_100.xyz')",
            ],
        ),
        (
            {"systems": "qm9.xyz", "targets": {"mtt::U0": {"unit": "kcal/mol"}}},
            [
                "validation_set.targets: '{root}/qm9.xyz' has no target 'energy', "
                "which the training set trains on ('{root}/ds' (training_set))"
            ],
        ),
        (
            {
                "systems": "qm9.xyz",
                "targets": {"energy": {"key": "U0", "unit": "kcal/mol"}},
            },
            ["qm9.xyz", "element N (atomic number 7)", "of the validation_set"],
        ),
    ],
    ids=["units", "targets", "elements"],
)
def test_sets_that_disagree_leave_no_run_directory(
    workdir, resources, capsys, validation, fragments
):
    shutil.copy(resources / "qm9_reduced_100.xyz", workdir / "qm9.xyz")
    options = _options(
        workdir / "options.yaml",
        training_set={"systems": "ds"},
        validation_set=validation,
    )
    capsys.readouterr()
    assert main(["train", str(options)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "a bug in atomtrain" not in error
    for fragment in fragments:
        assert fragment.format(root=workdir) in error, error
    assert not (workdir / "outputs").exists()
