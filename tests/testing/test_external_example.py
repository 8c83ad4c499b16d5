"""The external example architecture installs from its own folder (atomtrain
unchanged) and trains and exports through ``atomtrain train``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

EXAMPLE = Path(__file__).parents[2] / "examples" / "external-architecture"


def install(source: Path, target: Path) -> dict:
    """``pip install --no-deps --no-build-isolation --target`` and the environment
    that makes the installed package (and its entry point) visible."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    environment = dict(os.environ)
    pythonpath = [str(target), *filter(None, [environment.get("PYTHONPATH")])]
    environment["PYTHONPATH"] = os.pathsep.join(pythonpath)
    return environment


@pytest.mark.slow
def test_installed_example_trains_and_exports(tmp_path, resources):
    environment = install(EXAMPLE, tmp_path / "site")
    options = {
        "architecture": {
            "name": "radial_mlp",
            "model": {"cutoff": 4.0, "num_radial": 4, "hidden": 8},
            "training": {"num_epochs": 2, "batch_size": 8},
        },
        "base_precision": 64,
        "training_set": {
            "systems": str(resources / "ethanol_reduced_100.xyz"),
            "targets": {"energy": {"unit": "kcal/mol", "forces": "on"}},
        },
        "validation_set": 0.2,
        "test_set": 0.0,
    }
    (tmp_path / "options.yaml").write_text(yaml.safe_dump(options))
    command = [sys.executable, "-m", "atomtrain", "train", "options.yaml"]
    result = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "epoch    1" in result.stdout
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "model.ckpt").is_file()

    listing = subprocess.run(
        [sys.executable, "-m", "atomtrain", "doc"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "radial_mlp" in listing.stdout
