"""User faults that must read as ``error: ...`` naming the file, the key and the
structure, never as a bug in atomtrain: periodic structures without a cell, elements a
model never saw, files that are not exported models, foreign or damaged checkpoints,
truncated data files, a closed pipe, interrupts, and structures too large for memory."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import ase.io
import pytest
import torch
import yaml
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from fault_helpers import Snapshot, environment_without_threads, write_options

from atomtrain.architectures.checkpoints import read_checkpoint
from atomtrain.training import memory

RESOURCES = Path(__file__).parent.parent / "resources"


def _edit_frames(source: Path, target: Path, edit) -> None:
    """``source`` rewritten to ``target`` with ``edit(index, atoms)`` applied to each
    frame (an extxyz copy)."""
    frames: List[ase.Atoms] = ase.io.read(source, index=":")
    for index, atoms in enumerate(frames):
        edit(index, atoms)
    ase.io.write(target, frames)


def _periodic_without_cell(index: int, atoms: ase.Atoms) -> None:
    if index == 4:
        atoms.pbc = True


def test_periodic_structure_without_cell(workdir: Path, atomtrain) -> None:
    _edit_frames(workdir / "ethanol.xyz", workdir / "pbc.xyz", _periodic_without_cell)
    assert 'pbc="T T T"' in (workdir / "pbc.xyz").read_text()
    options = write_options(workdir / "options.yaml", data="pbc.xyz")
    snapshot = Snapshot(workdir)
    for command in ("check", "train"):
        atomtrain(command, options).assert_user_error(
            "pbc.xyz", "structure 4", "periodic", "has no cell"
        )
    atomtrain("convert", "pbc.xyz", "converted").assert_user_error(
        "pbc.xyz", "structure 4", "has no cell"
    )
    snapshot.assert_unchanged()
    assert not (workdir / "outputs").exists() or not any(
        (workdir / "outputs").rglob("model.ckpt")
    )


def test_eval_on_an_element_the_model_never_saw(
    trained: Path, atomtrain, resources: Path
) -> None:
    shutil.copy(resources / "qm9_reduced_100.xyz", trained / "qm9.xyz")
    (trained / "qm9.yaml").write_text("systems: qm9.xyz\n")
    atomtrain("eval", "model.pt", "qm9.yaml").assert_user_error(
        "qm9.xyz",
        "structures 1, 4, 9, 11, 18 (and 31 more)",
        "element N (atomic number 7)",
        "the model's atomic types: H, C, O (1, 6, 8)",
    )


def test_validation_set_with_an_element_absent_from_training(
    workdir: Path, atomtrain, resources: Path
) -> None:
    shutil.copy(resources / "qm9_reduced_100.xyz", workdir / "qm9.xyz")
    validation = {
        "systems": "qm9.xyz",
        "targets": {"energy": {"key": "U0", "unit": "kcal/mol", "forces": False}},
    }
    options = write_options(workdir / "options.yaml", validation_set=validation)
    atomtrain("train", options).assert_user_error(
        "qm9.xyz",
        "structures 1, 4, 9, 11, 18 (and 31 more) of the validation_set",
        "element N (atomic number 7)",
        "H, C, O (1, 6, 8)",
        "list it in architecture.atomic_types or add structures with it to the "
        "training set",
    )
    assert not list(workdir.rglob("*.ckpt"))


def _write_not_a_model(directory: Path, kind: str) -> Path:
    """A file of ``kind`` that a user might take for an exported model."""
    path = directory / f"{kind}.pt"
    if kind == "text":
        path.write_text("architecture:\n  name: pet\n")
    elif kind == "random":
        path.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy())
    elif kind == "tensor":
        torch.save(torch.zeros(4, 3), path)
    return path


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("text", "it is a text file"),
        ("random", "it holds binary data that is not a TorchScript archive"),
        ("tensor", "it holds a tensor saved with torch.save"),
    ],
)
def test_eval_of_a_file_that_is_not_a_model(
    workdir: Path, atomtrain, kind: str, what: str
) -> None:
    model = _write_not_a_model(workdir, kind)
    (workdir / "data.yaml").write_text("systems: ethanol.xyz\n")
    atomtrain("eval", model, "data.yaml").assert_user_error(
        f"'{model}' is not an exported metatomic model", what
    )


def test_eval_of_a_checkpoint_or_a_missing_model(trained: Path, atomtrain) -> None:
    (trained / "data.yaml").write_text("systems: ethanol.xyz\n")
    atomtrain("eval", "model.ckpt", "data.yaml").assert_user_error(
        "'model.ckpt' is not an exported metatomic model",
        "it is an atomtrain checkpoint; run 'atomtrain export model.ckpt' first",
    )
    atomtrain("eval", "modle.pt", "data.yaml").assert_user_error(
        "model file 'modle.pt' does not exist"
    )


def test_eval_of_a_model_without_its_extensions(workdir: Path, atomtrain) -> None:
    """SOAP-BPNN uses sphericart's compiled extension: a fresh process (where it is not
    loaded yet) needs ``-e``."""
    checkpoint = RESOURCES / "checkpoints" / "soap_bpnn-model-v2-trainer-v1.ckpt"
    exported = atomtrain("export", checkpoint, "-o", "soap.pt", "-e", "extensions")
    assert exported.code == 0, exported.err
    (workdir / "data.yaml").write_text("systems: ethanol.xyz\n")

    def evaluate(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "atomtrain", "eval", "soap.pt", "data.yaml"]
        return subprocess.run(
            [*command, *extra],
            capture_output=True,
            text=True,
            env=environment_without_threads(),
            timeout=300,
        )

    without = evaluate()
    assert without.returncode == 1, without.stderr
    assert "a bug in atomtrain" not in without.stderr
    assert (
        "error: the model 'soap.pt' needs compiled extensions that are not loaded; "
        "pass the directory they were collected into when the model was exported: "
        "'atomtrain eval -e <dir>'"
    ) in without.stderr
    wrong = evaluate("-e", "elsewhere")
    assert wrong.returncode == 1, wrong.stderr
    assert "not in 'elsewhere' (given with -e)" in wrong.stderr
    given = evaluate("-e", "extensions")
    assert given.returncode == 0, given.stderr
    assert "evaluated 900 atoms" in given.stdout


def _with_architecture(options: Path, name: str) -> Path:
    """A copy of ``options`` training architecture ``name`` with its defaults."""
    data = yaml.safe_load(options.read_text())
    data["architecture"] = {"name": name, "training": data["architecture"]["training"]}
    target = options.with_name(f"options-{name}.yaml")
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def test_restart_from_a_checkpoint_of_another_architecture(
    trained: Path, atomtrain
) -> None:
    options = write_options(trained / "options.yaml")
    runs_before = sorted((trained / "outputs").rglob("*"))
    pet = _with_architecture(options, "pet")
    atomtrain("train", pet, "--restart", "model.ckpt").assert_user_error(
        "--restart: checkpoint 'model.ckpt' holds a 'dummy' model",
        "the options train architecture.name 'pet'",
    )
    soap = RESOURCES / "checkpoints" / "soap_bpnn-model-v2-trainer-v1.ckpt"
    atomtrain("train", pet, "--restart", soap).assert_user_error(
        f"checkpoint '{soap}' holds a 'soap_bpnn' model",
        "architecture.name 'pet'",
    )
    assert sorted((trained / "outputs").rglob("*")) == runs_before


def _first_tensor(checkpoint: Dict[str, Any]) -> str:
    return next(iter(checkpoint["model"]["state_dict"]))


def _drop_tensor(checkpoint: Dict[str, Any]) -> None:
    checkpoint["model"]["state_dict"].pop(_first_tensor(checkpoint))


def _extra_tensor(checkpoint: Dict[str, Any]) -> None:
    checkpoint["model"]["state_dict"]["readout.extra"] = torch.zeros(3)


def _reshape_tensor(checkpoint: Dict[str, Any]) -> None:
    checkpoint["model"]["state_dict"][_first_tensor(checkpoint)] = torch.zeros(7, 2)


def _negative_version(checkpoint: Dict[str, Any]) -> None:
    checkpoint["model_checkpoint_version"] = -1


def _negative_cutoff(checkpoint: Dict[str, Any]) -> None:
    checkpoint["model"]["hypers"]["cutoff"] = -2.0


DAMAGES = {
    "missing": (_drop_tensor, "missing tensor '{tensor}'"),
    "extra": (_extra_tensor, "unexpected tensor 'readout.extra'"),
    "reshaped": (_reshape_tensor, "'{tensor}' has shape [7, 2] where the model has"),
    "version": (
        _negative_version,
        "its entry 'model_checkpoint_version' is -1, but the model of 'dummy' has "
        "versions 1 to 2 only",
    ),
    "cutoff": (
        _negative_cutoff,
        "model.hypers.cutoff: expected a number > 0 (got -2.0)",
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_checkpoint_to_export_restart_and_finetune(
    trained: Path, atomtrain, damage: str
) -> None:
    edit, message = DAMAGES[damage]
    (run,) = [path.parent for path in (trained / "outputs").rglob("model.ckpt")]
    checkpoint = torch.load(run / "model.ckpt", weights_only=True)
    message = message.format(tensor=_first_tensor(checkpoint))
    edit(checkpoint)
    # next to the run's split indices, which a restart reads
    damaged = run / "damaged.ckpt"
    torch.save(checkpoint, damaged)
    snapshot = Snapshot(trained, ignore=("outputs",))

    atomtrain("export", damaged, "-o", "exported.pt").assert_user_error(
        f"checkpoint '{damaged}'", message
    )
    assert not (trained / "exported.pt").exists()
    options = write_options(trained / "options.yaml")
    atomtrain("train", options, "--restart", damaged).assert_user_error(
        f"checkpoint '{damaged}'", message
    )
    finetune = {"finetune": {"method": "full", "read_from": str(damaged)}}
    options = write_options(trained / "finetune.yaml", training=finetune)
    atomtrain("train", options).assert_user_error(f"checkpoint '{damaged}'", message)
    snapshot.assert_unchanged()


def test_negative_cutoff_in_the_options(workdir: Path, atomtrain) -> None:
    options = write_options(workdir / "options.yaml")
    atomtrain(
        "check", options, "-r", "architecture.model.cutoff=-1.0"
    ).assert_user_error("architecture.model.cutoff: expected a number > 0 (got -1.0)")


def test_truncated_extxyz(workdir: Path, atomtrain) -> None:
    lines = (workdir / "ethanol.xyz").read_text().splitlines(True)
    # ethanol frames are 11 lines: stop in the middle of frame 42
    (workdir / "cut.xyz").write_text("".join(lines[: 42 * 11 + 5]))
    fragments = (
        "cut.xyz', structure 42: ASE cannot read this structure",
        "the file is truncated or damaged here, after 42 structures read",
    )
    atomtrain("convert", "cut.xyz", "converted").assert_user_error(*fragments)
    assert not (workdir / "converted").exists()
    options = write_options(workdir / "options.yaml", data="cut.xyz")
    for command in ("check", "train"):
        atomtrain(command, options).assert_user_error(*fragments)


def _with_output_closed(*args: str) -> Tuple[int, str]:
    """Run ``atomtrain ARGS`` with its standard output a pipe whose reader has gone
    away: ``(exit code, standard error)``."""
    with subprocess.Popen(
        [sys.executable, "-m", "atomtrain", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment_without_threads(),
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        error = process.stderr.read().decode()
        return process.wait(timeout=300), error


def test_output_closed_by_its_reader(workdir: Path) -> None:
    assert _with_output_closed("doc", "pet") == (141, "")
    options = write_options(workdir / "options.yaml")
    assert _with_output_closed("train", str(options)) == (141, "")
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f"set -o pipefail; '{sys.executable}' -m atomtrain doc pet | head -1",
        ],
        capture_output=True,
        text=True,
        env=environment_without_threads(),
        timeout=300,
    )
    assert shell.stdout.startswith("#")
    assert shell.returncode in (0, 141) and shell.stderr == ""


@pytest.mark.parametrize(
    ("number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_signal_during_training(workdir: Path, number: int, code: int) -> None:
    """The engine finishes its step, writes a checkpoint, and the process exits with
    128 + the signal, as a shell expects of a process the signal ended."""
    options = write_options(workdir / "options.yaml", epochs=1000)
    with subprocess.Popen(
        [sys.executable, "-m", "atomtrain", "train", str(options)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment_without_threads(),
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("epoch    0 |"):
                break
        process.send_signal(number)
        _, error = process.communicate(timeout=300)
    assert process.returncode == code, error
    name = signal.Signals(number).name
    assert f"training interrupted by {name} at epoch" in error
    assert "continue with --restart auto" in error and "error:" not in error
    (checkpoint,) = (workdir / "outputs").rglob("model_interrupted.ckpt")
    assert f"checkpoint written to {checkpoint.relative_to(workdir)}" in error
    stored, _ = read_checkpoint(checkpoint)
    assert 0 < stored["trainer"]["state"]["epoch"] < 1000


def test_structure_too_large_for_the_memory(
    workdir: Path, atomtrain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real bulk copper supercell in the validation set, with 10 MB of memory
    available (injected: the guard compares its estimate with it)."""
    copper = bulk("Cu", cubic=True) * (6, 6, 6)
    copper.rattle(0.05, seed=1)
    copper.calc = EMT()
    copper.calc = SinglePointCalculator(
        copper, energy=copper.get_potential_energy(), forces=copper.get_forces()
    )
    ase.io.write(workdir / "copper.xyz", [copper])
    validation = {"systems": "copper.xyz", "targets": {"energy": {"unit": "kcal/mol"}}}
    options = write_options(workdir / "options.yaml", validation_set=validation)
    data = yaml.safe_load(options.read_text())
    data["architecture"]["atomic_types"] = [1, 6, 8, 29]
    options.write_text(yaml.safe_dump(data))
    monkeypatch.setattr(memory, "available_bytes", lambda device: 10_000_000)
    atomtrain("train", options).assert_user_error(
        "structure 0 of '",
        "copper.xyz' (864 atoms, 15552 neighbour pairs) needs about ",
        "of memory for one training step of this model, more than the 9 MB a step "
        "may use on cpu",
        "max_atoms_per_batch",
    )
    assert not list(workdir.rglob("*.ckpt"))
