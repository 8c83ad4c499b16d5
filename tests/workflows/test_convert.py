"""``atomtrain convert`` at scale: many files, glob patterns, ASE databases, merging and
appending datasets, a progress bar, and no half-written dataset after an error, a
kill or Ctrl-C."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

import ase.db
import ase.io
import pytest
import torch

from atomtrain.cli.main import main
from atomtrain.data.info import TargetInfo
from atomtrain.data.ondisk import DiskDataset
from atomtrain.data.ondisk_convert import ConvertTarget, convert
from atomtrain.errors import DataError
from atomtrain.workflows.convert import convert_inputs

ENERGY = ["--energy", "energy", "--energy-unit", "kcal/mol", "--forces", "forces"]


@pytest.fixture
def parts(tmp_path: Path, resources: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Ethanol split in ``parts/a.xyz`` (30), ``parts/b.xyz`` (30) and ``rest.db``
    (40, an ASE database); the working directory is ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":")
    (tmp_path / "parts").mkdir()
    ase.io.write(tmp_path / "parts" / "b.xyz", frames[30:60])
    ase.io.write(tmp_path / "parts" / "a.xyz", frames[:30])
    database = ase.db.connect(tmp_path / "rest.db")
    for atoms in frames[60:]:
        database.write(atoms)
    return tmp_path


def _checksums(directory: Path) -> Dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _energies(dataset: DiskDataset) -> torch.Tensor:
    return torch.cat(
        [dataset[i].targets["energy"].blocks[0] for i in range(len(dataset))]
    )


def test_patterns_and_databases_in_one_dataset(parts, resources, capsys):
    assert main(["convert", "parts/*.xyz", "rest.db", "all", *ENERGY]) == 0
    assert "wrote 100 structures to 'all'" in capsys.readouterr().out
    dataset = DiskDataset("all")
    assert dataset.header["files"] == ["parts/a.xyz", "parts/b.xyz", "rest.db"]
    assert dataset.origin(45) == ("parts/b.xyz", 15)
    assert dataset.origin(99) == ("rest.db", 39)
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":")
    expected = torch.tensor([[f.get_potential_energy()] for f in frames])
    torch.testing.assert_close(_energies(dataset), expected.double(), rtol=0, atol=0)
    forces = dataset[80].targets["energy"].gradients["positions"][..., 0]
    torch.testing.assert_close(forces, -torch.tensor(frames[80].get_forces()))


def test_a_progress_bar_with_rate_and_time_left(parts, capsys):
    targets = [
        ConvertTarget(
            "energy", "energy", TargetInfo("energy", "kcal/mol"), forces_key="forces"
        )
    ]
    assert convert_inputs(
        ["parts/*.xyz", "rest.db"], Path("all"), targets, progress=True
    )
    bar = capsys.readouterr().err
    assert "converting: 100%" in bar and "100/100" in bar and "structure/s" in bar


def test_missing_inputs_are_named(parts, capsys):
    assert main(["convert", "parts/*.extxyz", "out", *ENERGY]) == 1
    assert (
        "no file matches the input pattern 'parts/*.extxyz'" in capsys.readouterr().err
    )
    assert main(["convert", "parts/c.xyz", "out", *ENERGY]) == 1
    assert "input 'parts/c.xyz' does not exist" in capsys.readouterr().err
    assert not Path("out").exists()


def test_appending_gives_the_dataset_of_one_conversion(parts, capsys):
    assert (
        main(["convert", "parts/a.xyz", "parts/b.xyz", "rest.db", "once", *ENERGY]) == 0
    )
    assert main(["convert", "parts/a.xyz", "grown", *ENERGY]) == 0
    assert (
        main(["convert", "parts/b.xyz", "rest.db", "grown", "--append", *ENERGY]) == 0
    )
    assert "appended 70 structures to 'grown'" in capsys.readouterr().out
    once, grown = _checksums(Path("once")), _checksums(Path("grown"))
    assert once == grown
    # without target options, those of the dataset are kept
    assert main(["convert", "parts/a.xyz", "grown", "--append"]) == 1
    assert "need the labels to read from them" in capsys.readouterr().err
    assert _checksums(Path("grown")) == grown


def test_datasets_are_merged(parts, capsys):
    assert main(["convert", "parts/a.xyz", "first", *ENERGY]) == 0
    assert main(["convert", "rest.db", "second", *ENERGY]) == 0
    assert main(["convert", "first", "second", "merged"]) == 0
    merged = DiskDataset("merged")
    assert len(merged) == 70 and merged.origin(30) == ("rest.db", 0)
    assert merged.info.targets == DiskDataset("first").info.targets
    assert main(["convert", "merged", "merged", "--append"]) == 1
    assert "both an input and the output" in capsys.readouterr().err


def test_an_append_that_fails_leaves_the_dataset_as_it_was(parts, resources, capsys):
    assert main(["convert", "parts/a.xyz", "data", *ENERGY]) == 0
    before = _checksums(Path("data"))
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":20")
    frames[17].calc.results["energy"] = float("nan")
    ase.io.write("bad.xyz", frames)
    energy = TargetInfo("energy", "kcal/mol")
    targets = [ConvertTarget("energy", "energy", energy, forces_key="forces")]
    # in chunks of 7: two chunks of the failed append reach the files first
    with pytest.raises(DataError, match="structure 17, key 'energy': NaN or infinite"):
        convert(["bad.xyz"], "data", targets, chunk_size=7, append=True)
    assert _checksums(Path("data")) == before
    assert main(["convert", "parts/b.xyz", "data", "--append", *ENERGY]) == 0
    assert len(DiskDataset("data")) == 60
    grown = _checksums(Path("data"))
    other = ["--energy", "energy", "--energy-unit", "eV", "--forces", "forces"]
    assert main(["convert", "parts/b.xyz", "data", "--append", *other]) == 1
    assert "cannot append to 'data': it holds energy (kcal/mol" in (
        capsys.readouterr().err
    )
    assert _checksums(Path("data")) == grown


def _long_input(path: Path, resources: Path, copies: int) -> None:
    text = (resources / "ethanol_reduced_100.xyz").read_text()
    with open(path, "w") as file:
        for _ in range(copies):
            file.write(text)


def _convert_process(*arguments: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "atomtrain", "convert", *arguments],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _wait_for_writes(directory: Path, name: str) -> None:
    """Until a temporary directory for ``name``, or its array files, are written."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if list(directory.glob(f".*.{name}/types.bin")) or list(
            directory.glob(f"{name}/.*")
        ):
            return
        time.sleep(0.05)
    raise AssertionError("the conversion did not start writing")


@pytest.mark.slow
@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_conversion_leaves_nothing(parts, resources, sent):
    _long_input(parts / "long.xyz", resources, 300)
    process = _convert_process("long.xyz", "out", *ENERGY, cwd=parts)
    _wait_for_writes(parts, "out")
    process.send_signal(sent)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 128 + sent, error
    name = signal.Signals(sent).name
    assert f"conversion interrupted by {name}: 'out' not created" in error
    assert sorted(p.name for p in parts.iterdir()) == ["long.xyz", "parts", "rest.db"]


@pytest.mark.slow
def test_an_interrupted_append_leaves_the_dataset_as_it_was(parts, resources):
    assert main(["convert", "parts/a.xyz", "data", *ENERGY]) == 0
    before = _checksums(parts / "data")
    types = parts / "data" / "types.bin"
    size = types.stat().st_size
    _long_input(parts / "long.xyz", resources, 300)
    process = _convert_process("long.xyz", "data", "--append", *ENERGY, cwd=parts)
    deadline = time.monotonic() + 120
    while types.stat().st_size == size and time.monotonic() < deadline:
        time.sleep(0.05)  # until a first chunk of appended rows is written
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 130, error
    assert "conversion interrupted by SIGINT: 'data' left as it was" in error
    assert _checksums(parts / "data") == before


@pytest.mark.slow
def test_a_killed_conversion_leaves_no_dataset_and_is_cleaned_up(parts, resources):
    _long_input(parts / "long.xyz", resources, 300)
    process = _convert_process("long.xyz", "out", *ENERGY, cwd=parts)
    _wait_for_writes(parts, "out")
    process.kill()
    process.communicate(timeout=60)
    assert not (parts / "out").exists()
    assert len(list(parts.glob(".*.out"))) == 1  # the temporary directory only
    assert main(["convert", "parts/a.xyz", "out", *ENERGY]) == 0
    assert not list(parts.glob(".*.out")) and len(DiskDataset(parts / "out")) == 30
