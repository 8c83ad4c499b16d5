"""``atomtrain check`` on the real data files, and on copies with planted problems."""

from __future__ import annotations

from pathlib import Path

import ase.io
import pytest
import yaml

from atomtrain.cli.main import main

SHARED = {
    "ethanol_reduced_100.xyz": {"energy": {"unit": "kcal/mol"}},
    "carbon_reduced_100.xyz": {
        "energy": {
            "unit": "eV",
            "forces": {"key": "force"},
            "virial": {"key": "virial"},
        }
    },
    "qm9_reduced_100.xyz": {
        "energy": {"key": "U0", "unit": "hartree", "forces": "off"}
    },
}


def _write_options(directory: Path, data: Path, targets: dict) -> Path:
    options = {
        "architecture": {"name": "dummy"},
        "seed": 5,
        "training_set": {"systems": str(data), "targets": targets},
        "validation_set": 0.1,
        "test_set": 0.1,
    }
    path = directory / "options.yaml"
    path.write_text(yaml.safe_dump(options))
    return path


@pytest.fixture
def workdir(tmp_path, monkeypatch, dummy_architecture):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_data_passes(workdir, resources, capsys, name):
    options = _write_options(workdir, resources / name, SHARED[name])
    assert main(["check", str(options)]) == 0
    output = capsys.readouterr().out
    assert "training_set: 80 structures" in output
    assert "0 error(s)" in output
    assert not (workdir / "outputs").exists()


def test_ethanol_gfn2_passes(workdir, ethanol_gfn2, capsys):
    options = _write_options(workdir, ethanol_gfn2, {"energy": {"unit": "eV"}})
    assert main(["check", str(options)]) == 0
    assert "training_set: 800 structures" in capsys.readouterr().out


def _copy_with(resources: Path, workdir: Path, change) -> Path:
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":")
    change(frames)
    path = workdir / "ethanol.xyz"
    ase.io.write(path, frames, format="extxyz")
    return path


def test_nan_energy_fails_naming_structure_7(workdir, resources, capsys):
    def plant(frames):
        frames[7].calc.results["energy"] = float("nan")

    data = _copy_with(resources, workdir, plant)
    options = _write_options(workdir, data, {"energy": {"unit": "kcal/mol"}})
    assert (
        main(["check", str(options), "-r", "validation_set=0", "-r", "test_set=0"]) == 1
    )
    output = capsys.readouterr().out
    assert "error: training_set: NaN or infinite values in 'energy'" in output
    assert "structure 7 of" in output


def test_overlapping_atoms_fail_naming_structure_3(workdir, resources, capsys):
    def plant(frames):
        frames[3].positions[1] = frames[3].positions[0] + [0.1, 0.1, 0.0]

    data = _copy_with(resources, workdir, plant)
    options = _write_options(workdir, data, {"energy": {"unit": "kcal/mol"}})
    assert (
        main(["check", str(options), "-r", "validation_set=0", "-r", "test_set=0"]) == 1
    )
    output = capsys.readouterr().out
    assert "atoms closer than 0.5" in output
    assert "structure 3 of" in output


def test_a_target_the_architecture_cannot_model_is_an_error(workdir, resources, capsys):
    polarizability = {"key": "polarizability", "type": {"cartesian": {"rank": 2}}}
    data = resources / "qm7x_reduced_100.xyz"
    options = _write_options(workdir, data, {"mtt::polarizability": polarizability})
    assert main(["check", str(options)]) == 1
    output = capsys.readouterr().out
    assert "training_set: 80 structures" in output
    assert "mtt::polarizability" in output
    assert "error: architecture 'dummy': the dummy architecture only models scalar" in (
        output
    )
    assert "1 error(s)" in output


def test_qm7x_polarizability_passes_with_an_architecture_that_models_it(
    workdir, resources, capsys
):
    polarizability = {"key": "polarizability", "type": {"cartesian": {"rank": 2}}}
    data = resources / "qm7x_reduced_100.xyz"
    options = _write_options(workdir, data, {"mtt::polarizability": polarizability})
    raw = yaml.safe_load(options.read_text())
    raw["architecture"] = {"name": "pet"}
    options.write_text(yaml.safe_dump(raw))
    assert main(["check", str(options)]) == 0
    output = capsys.readouterr().out
    assert "mtt::polarizability" in output
    assert "0 error(s)" in output
