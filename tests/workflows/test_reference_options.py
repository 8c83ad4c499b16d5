"""The expanded options files the reference implementation writes
(``options_restart.yaml`` of an ``mtt train`` run of ``pet`` and of ``soap_bpnn``)
train in atomtrain unchanged: every key is read with its meaning, or ignored with a
warning where it asks for nothing (a feature left off). Skipped without the reference
environment (``../shared/bench/reference-env.sh``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import ase.io
import pytest
import yaml

from atomtrain.cli.main import main
from atomtrain.options.reference_keys import IgnoredOptionWarning

REFERENCE_MTT = Path(os.environ.get("TMPDIR", "/tmp")) / "metatrain-ref" / "bin" / "mtt"

MODELS = {
    "pet": {
        "d_pet": 16,
        "d_head": 16,
        "d_node": 16,
        "d_feedforward": 16,
        "num_heads": 2,
    },
    "soap_bpnn": {"soap": {"max_radial": 3, "max_angular": 2}},
}


@pytest.mark.slow
@pytest.mark.skipif(not REFERENCE_MTT.exists(), reason="reference environment absent")
@pytest.mark.parametrize("architecture", sorted(MODELS))
def test_the_reference_expanded_options_train_unchanged(
    tmp_path, monkeypatch, resources, architecture
):
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":20")
    ase.io.write(tmp_path / "data.xyz", frames)
    options = {
        "seed": 0,
        "architecture": {
            "name": architecture,
            "model": MODELS[architecture],
            "training": {"num_epochs": 1, "batch_size": 4},
        },
        "training_set": {
            "systems": {"read_from": "data.xyz", "length_unit": "angstrom"},
            "targets": {
                "energy": {
                    "key": "energy",
                    "unit": "kcal/mol",
                    "forces": {"key": "forces"},
                }
            },
        },
        "validation_set": 0.2,
        "test_set": 0.1,
    }
    (tmp_path / "options.yaml").write_text(yaml.safe_dump(options))
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment["OMP_NUM_THREADS"] = "1"
    reference = subprocess.run(
        [str(REFERENCE_MTT), "train", "options.yaml", "-o", "reference.pt"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert reference.returncode == 0, reference.stdout + reference.stderr
    [written] = tmp_path.glob("outputs/*/*/options_restart.yaml")
    assert yaml.safe_load(written.read_text())["architecture"]["name"] == architecture
    # the reference writes paths relative to where it ran, atomtrain reads them
    # relative to the options file: the file goes where the run was, unchanged
    expanded = tmp_path / "options_restart.yaml"
    expanded.write_bytes(written.read_bytes())
    monkeypatch.chdir(tmp_path)
    with pytest.warns(IgnoredOptionWarning, match="have no effect here"):
        assert main(["train", str(expanded), "-o", "ours.pt"]) == 0
    assert (tmp_path / "ours.pt").is_file()
