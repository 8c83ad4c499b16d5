"""MACE model files as the start of fine-tuning: converted models compute what
mace-torch computes (every head, with ZBL and a distance transform), a real file
written by ``mace_run_train`` fine-tunes through ``atomtrain train``, and a file is
read only on the user's word."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, List

import ase
import ase.io
import ase.units
import numpy as np
import pytest
import torch
import yaml
from mace_helpers import structure_of, tiny_hypers

from atomtrain.checkpoints import read_checkpoint_file
from atomtrain.cli.main import main
from atomtrain.errors import OptionsError, UserError
from atomtrain.finetune.prepare import pretrained_checkpoint
from atomtrain.finetune.settings import finetune_settings
from atomtrain.mace import MACE
from atomtrain.mace.dependencies import modules, o3, quiet_construction
from atomtrain.mace.model_file import read_model_file
from atomtrain.pet import PET
from atomtrain.testing.probe import Probe

EV = {"energy": {"unit": "eV", "forces": True}}


def _frames(resources: Path, count: int) -> List[ase.Atoms]:
    """Ethanol conformers with energies and forces in eV (as MACE wants them)."""
    kcal_per_mol = ase.units.kcal / ase.units.mol
    frames = []
    for atoms in ase.io.read(resources / "ethanol_reduced_100.xyz", f":{count}"):
        frame = ase.Atoms(atoms.numbers, atoms.positions)
        frame.info["REF_energy"] = atoms.get_potential_energy() * kcal_per_mol
        frame.arrays["REF_forces"] = atoms.get_forces() * kcal_per_mol
        frames.append(frame)
    return frames


def _two_head_model(**changes: Any) -> torch.nn.Module:
    """A ScaleShiftMACE with two heads, ZBL, the Agnesi transform and per-head
    E0s, scales and shifts, as a foundation model fine-tuned by MACE has them."""
    torch.manual_seed(2)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with quiet_construction():
            model = modules.ScaleShiftMACE(
                r_max=4.0,
                num_bessel=4,
                num_polynomial_cutoff=5,
                max_ell=2,
                interaction_cls=modules.interaction_classes[
                    "RealAgnosticResidualInteractionBlock"
                ],
                interaction_cls_first=modules.interaction_classes[
                    "RealAgnosticResidualInteractionBlock"
                ],
                num_interactions=2,
                num_elements=3,
                hidden_irreps=o3.Irreps("4x0e + 4x1o"),
                MLP_irreps=o3.Irreps("8x0e"),
                atomic_energies=np.array(
                    [[-13.0, -1030.0, -2040.0], [-12.0, -1020.0, -2050.0]]
                ),
                avg_num_neighbors=7.5,
                atomic_numbers=[1, 6, 8],
                correlation=2,
                gate=torch.nn.functional.silu,
                pair_repulsion=True,
                distance_transform="Agnesi",
                radial_MLP=[8],
                heads=["pt_head", "Default"],
                atomic_inter_scale=[0.7, 1.3],
                atomic_inter_shift=[0.05, -0.2],
                **changes,
            )
    finally:
        torch.set_default_dtype(default)
    # the readouts start near zero: give every head a distinct, sizeable output
    with torch.no_grad():
        for parameter in model.readouts.parameters():
            parameter.normal_()
    return model


def _mace_predictions(foreign, frames, head: str):
    """Energies and forces of mace-torch's own model, through its own data
    pipeline (neighbour lists, graph and head selection included)."""
    from mace.tools import torch_geometric, utils

    from mace import data as mace_data

    table = utils.AtomicNumberTable([int(z) for z in foreign.atomic_numbers])
    configs = [mace_data.config_from_atoms(atoms, head_name=head) for atoms in frames]
    # mace-torch builds its graphs in the default dtype, which its models set
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        graphs = [
            mace_data.AtomicData.from_config(
                config, z_table=table, cutoff=float(foreign.r_max), heads=foreign.heads
            )
            for config in configs
        ]
    finally:
        torch.set_default_dtype(default)
    loader = torch_geometric.dataloader.DataLoader(graphs, batch_size=len(graphs))
    batch = next(iter(loader)).to_dict()
    output = foreign(batch, compute_force=True)
    return output["energy"].detach(), output["forces"].detach()


def _atomtrain_predictions(model: MACE, frames, target: str):
    probe = Probe(model, {target: model.dataset_info.targets[target]})
    energies, forces = [], []
    for atoms in frames:
        energy, leaves = probe.energy_and_gradients(structure_of(atoms, {}), target)
        energies.append(float(energy))
        forces.append(-leaves.positions.grad)
    return torch.tensor(energies, dtype=torch.float64), torch.cat(forces)


def test_every_head_computes_what_mace_computes(resources, tmp_path):
    foreign = _two_head_model()
    path = tmp_path / "two_heads.model"
    torch.save(foreign, path)
    model = read_model_file(MACE, path).eval()
    assert sorted(model.dataset_info.targets) == ["energy", "energy/pt_head"]
    assert model.hypers["pair_repulsion"] and model.hypers["MLP_irreps"] == "8x0e"
    frames = _frames(resources, 4)
    for head, target in (("Default", "energy"), ("pt_head", "energy/pt_head")):
        expected_energy, expected_forces = _mace_predictions(foreign, frames, head)
        energy, forces = _atomtrain_predictions(model, frames, target)
        torch.testing.assert_close(energy, expected_energy, rtol=1e-12, atol=1e-8)
        torch.testing.assert_close(forces, expected_forces, rtol=1e-9, atol=1e-9)


def _settings(path: Path, **section):
    settings = finetune_settings({"finetune": {"read_from": str(path), **section}})
    assert settings is not None
    return settings


def test_a_model_file_is_read_only_when_trusted(tmp_path):
    path = tmp_path / "foundation.model"
    torch.save(_two_head_model(), path)
    with pytest.raises(OptionsError) as error:
        pretrained_checkpoint(MACE, _settings(path))
    message = str(error.value)
    assert "architecture.training.finetune.trust_pickled_code" in message
    assert f"'{path}' is a MACE model file: a Python pickle" in message
    assert "reading it runs any code it holds" in message
    with pytest.raises(OptionsError, match="expected true or false"):
        _settings(path, trust_pickled_code="yes")
    with pytest.raises(UserError, match=r"'missing\.model' does not exist"):
        pretrained_checkpoint(
            MACE, _settings(Path("missing.model"), trust_pickled_code=True)
        )
    # another architecture does not read MACE files: it is refused unread
    with pytest.raises(UserError, match="contains code or Python objects"):
        pretrained_checkpoint(PET, _settings(path, trust_pickled_code=True))
    checkpoint = pretrained_checkpoint(MACE, _settings(path, trust_pickled_code=True))
    assert checkpoint["architecture_name"] == "mace"


def test_files_of_other_models_are_refused(tmp_path):
    path = tmp_path / "other.model"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(UserError, match="holds a Linear; atomtrain reads MACE energy"):
        read_model_file(MACE, path)
    torch.save(_two_head_model(use_last_readout_only=True), path)
    with pytest.raises(UserError) as error:
        read_model_file(MACE, path)
    assert str(error.value) == (
        f"the MACE model in '{path}' uses use_last_readout_only, which atomtrain's "
        "mace architecture does not build"
    )
    path.write_text("not a pickle")
    with pytest.raises(UserError, match="could not be read as a MACE model file"):
        read_model_file(MACE, path)


def _mace_run_train(directory: Path, frames: List[ase.Atoms]) -> Path:
    """A tiny MACE trained for one epoch by ``mace_run_train`` (float64)."""
    ase.io.write(directory / "train.xyz", frames)
    hypers = tiny_hypers()
    command = [
        str(Path(sys.executable).with_name("mace_run_train")),
        "--name=tiny",
        "--train_file=train.xyz",
        "--valid_fraction=0.2",
        "--E0s=average",
        "--model=MACE",
        f"--hidden_irreps={hypers['hidden_irreps']}",
        f"--r_max={hypers['r_max']}",
        f"--num_radial_basis={hypers['num_radial_basis']}",
        f"--max_ell={hypers['max_ell']}",
        f"--correlation={hypers['correlation']}",
        f"--MLP_irreps={hypers['MLP_irreps']}",
        f"--radial_MLP={hypers['radial_MLP']}",
        "--batch_size=5",
        "--max_num_epochs=1",
        "--device=cpu",
        "--seed=1",
        "--default_dtype=float64",
    ]
    subprocess.run(command, cwd=directory, check=True, capture_output=True)
    return directory / "tiny.model"


@pytest.mark.slow
def test_finetuning_a_model_written_by_mace_run_train(
    resources, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    frames = _frames(resources, 20)
    path = _mace_run_train(tmp_path, frames[:12])
    with quiet_construction():
        foreign = torch.load(path, weights_only=False)
    expected, _ = _mace_predictions(foreign, frames[12:], "Default")
    converted = MACE.load_checkpoint(MACE.checkpoint_from_foreign_model(path), "export")
    energies, _ = _atomtrain_predictions(converted, frames[12:], "energy")
    torch.testing.assert_close(energies, expected, rtol=1e-12, atol=1e-8)

    ase.io.write(tmp_path / "finetune.xyz", frames[12:])
    options = {
        "architecture": {
            "name": "mace",
            "training": {
                "num_epochs": 1,
                "batch_size": 4,
                "finetune": {"read_from": "tiny.model", "trust_pickled_code": True},
            },
        },
        "seed": 1,
        "training_set": {
            "systems": "finetune.xyz",
            "targets": {
                "energy": {
                    "key": "REF_energy",
                    "unit": "eV",
                    "forces": {"key": "REF_forces"},
                }
            },
        },
        "validation_set": 0.25,
        "test_set": 0.0,
        "final_eval": False,
    }
    (tmp_path / "options.yaml").write_text(yaml.safe_dump(options))
    assert main(["train", "options.yaml"]) == 0
    log = capsys.readouterr().out
    assert "fine-tuning tiny.model" in log
    assert "step-0 check passed" in log
    # the run's checkpoint is plain data, loaded safely, with the converted hypers
    checkpoint = read_checkpoint_file(tmp_path / "model.ckpt")
    hypers = checkpoint["model"]["hypers"]
    assert hypers["hidden_irreps"] == "4x0e+4x1o"
    assert hypers["avg_num_neighbors"] == pytest.approx(
        float(foreign.interactions[0].avg_num_neighbors)
    )
    state = checkpoint["model"]["state_dict"]
    assert float(state["encoder.avg_num_neighbors"]) == hypers["avg_num_neighbors"]
    # the model file was read once: a restart continues without it
    path.unlink()
    more = "architecture.training.num_epochs=2"
    restart = ["train", "options.yaml", "-r", more, "--restart", "auto"]
    assert main([*restart, "-o", "restarted.pt"]) == 0
    assert (
        read_checkpoint_file(tmp_path / "restarted.ckpt")["trainer"]["state"]["epoch"]
        == 2
    )
