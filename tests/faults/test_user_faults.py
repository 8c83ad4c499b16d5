"""User faults that must read as ``error: ...`` naming the file, the key and the
structure, never as a bug in atomtrain: periodic structures without a cell, elements a
model never saw, files that are not exported models, foreign or damaged checkpoints,
truncated data files, a closed pipe, interrupts, and structures too large for memory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

import ase.io
from tests.faults.conftest import Snapshot, write_options


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
