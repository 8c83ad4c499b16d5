"""Fine-tuning PET: a small PET pretrained on GFN2-xTB ethanol (eV) is fine-tuned on
DFT ethanol (kcal/mol, a new variant ``energy/dft``) with each method, through
``atomtrain train``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict

import ase.io
import pytest
import torch
import yaml
from metatomic.torch import ModelOutput, load_atomistic_model
from metatomic_ase import MetatomicCalculator

from atomtrain.architectures.checkpoints import load_model
from atomtrain.cli.main import main
from atomtrain.workflows.train import train

#: A PET small enough to train in seconds on two cores.
TINY_PET = {
    "d_pet": 16,
    "d_head": 16,
    "d_node": 24,
    "d_feedforward": 32,
    "num_heads": 2,
    "num_radial": 6,
    "cutoff": 3.5,
    "num_gnn_layers": 1,
    "num_attention_layers": 1,
}


def _options(path: Path, data: Path, targets: Dict[str, Any], **training) -> Path:
    options = {
        "architecture": {
            "name": "pet",
            "model": TINY_PET,
            "training": {
                "num_epochs": 2,
                "batch_size": 16,
                "learning_rate": 3e-3,
                "warmup_fraction": 0.0,
            }
            | training,
        },
        "base_precision": 64,
        "seed": 11,
        "training_set": {"systems": str(data), "targets": targets},
        "validation_set": 0.2,
        "test_set": 0.0,
        "final_eval": False,
    }
    path.write_text(yaml.safe_dump(options))
    return path


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, ethanol_gfn2_path) -> Path:
    """PET trained on frames of the first half of the GFN2 trajectory."""
    root = tmp_path_factory.mktemp("pretrained")
    half = root / "gfn2_first_half.xyz"
    ase.io.write(half, ase.io.read(ethanol_gfn2_path, index="0:500:4"))
    targets = {"energy": {"unit": "eV", "forces": True}}
    options = _options(root / "pretrain.yaml", half, targets, num_epochs=4)
    result = train(options, output=root / "pretrained.pt", outputs_root=root / "out")
    return result.checkpoint


@pytest.fixture(scope="module")
def ethanol_gfn2_path() -> Path:
    return Path(__file__).parents[2] / "examples" / "data" / "ethanol_gfn2_1000.xyz"


def _predict(model_path: Path, frames: list, output: str) -> torch.Tensor:
    calculator = MetatomicCalculator(str(model_path))
    request = {output: ModelOutput(unit="eV", sample_kind="system")}
    values = [
        calculator.run_model(atoms, request)[output].block().values.detach()
        for atoms in frames
    ]
    return torch.cat(values).reshape(-1)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "heads", "lora"])
def test_each_method_reproduces_the_pretrained_model_at_step_0(
    pretrained, tmp_path, monkeypatch, resources, ethanol_gfn2_path, method, capsys
):
    monkeypatch.chdir(tmp_path)
    finetune: Dict[str, Any] = {
        "read_from": str(pretrained),
        "method": method,
        "inherit_heads": {"energy/dft": "energy"},
    }
    if method == "lora":
        finetune["config"] = {"rank": 4, "alpha": 8.0}
    targets = {"energy/dft": {"key": "energy", "unit": "kcal/mol", "forces": True}}
    options = _options(
        tmp_path / "finetune.yaml",
        resources / "ethanol_reduced_100.xyz",
        targets,
        finetune=finetune,
    )
    assert main(["train", str(options), "-o", "finetuned.pt"]) == 0
    console = capsys.readouterr().out

    check = re.search(
        r"step-0 check passed: .*largest difference: energy (\S+) eV", console
    )
    assert check is not None, console
    print(f"{method}: step-0 largest difference of energy {check.group(1)} eV")
    assert float(check.group(1)) <= 1e-10
    assert f"method {method}" in console and "head copied from energy" in console

    before = load_model(pretrained, "export")
    after = load_model(tmp_path / "finetuned.ckpt", "export")
    assert set(after.dataset_info.targets) == {"energy", "energy/dft"}
    assert not any("lora" in key for key in after.state_dict())

    # second half of the trajectory: never seen by either model
    frames = ase.io.read(ethanol_gfn2_path, index="500:1000:50")
    exported = tmp_path / "finetuned.pt"
    old = _predict(pretrained.with_suffix(".pt"), frames, "energy")
    kept = _predict(exported, frames, "energy")
    new = _predict(exported, frames, "energy/dft")
    assert torch.isfinite(new).all()
    if method == "heads":
        # frozen backbone and old head, old baseline kept: the old target is intact
        torch.testing.assert_close(kept, old, rtol=1e-12, atol=1e-9)
        for key, value in before.state_dict().items():
            if key.startswith("encoder.") or key.startswith("heads.energy."):
                torch.testing.assert_close(after.state_dict()[key], value)
    else:
        assert not torch.allclose(kept, old, rtol=0.0, atol=1e-9)
    assert "energy/dft" in load_atomistic_model(str(exported)).capabilities().outputs
