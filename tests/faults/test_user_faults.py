"""User faults that must read as ``error: ...`` naming the file, the key and the
structure, never as a bug in atomtrain: periodic structures without a cell, elements a
model never saw, files that are not exported models, foreign or damaged checkpoints,
truncated data files, a closed pipe, interrupts, and structures too large for memory."""

from __future__ import annotations

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
