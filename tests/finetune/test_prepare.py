"""Fine-tuning end to end: a dummy model pretrained on GFN2-xTB ethanol (eV) is
fine-tuned on DFT ethanol (kcal/mol) with each method, through the train workflow."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any, Dict

import ase.io
import pytest
import torch
import yaml
from metatomic.torch import load_atomistic_model

from atomtrain.architectures.checkpoints import load_model
from atomtrain.checkpoints import read_checkpoint_file, write_checkpoint_file
from atomtrain.data.batching import BatchBuilder
from atomtrain.data.loading import load_datasets
from atomtrain.errors import OptionsError, UserError
from atomtrain.finetune import StepZeroMismatch, step_zero_check
from atomtrain.finetune.prepare import _trainable
from atomtrain.finetune.settings import finetune_settings
from atomtrain.modules.lora import CHECKPOINT_SECTION
from atomtrain.options import validate_options
from atomtrain.workflows.train import train


def _options(path: Path, data: Path, targets: Dict[str, Any], **training) -> Path:
    options = {
        "architecture": {
            "name": "dummy",
            "model": {"hidden": 16},
            "training": {"num_epochs": 2, "batch_size": 10} | training,
        },
        "base_precision": 64,
        "seed": 5,
        "training_set": {"systems": str(data), "targets": targets},
        "validation_set": 0.1,
        "test_set": 0.0,
        "final_eval": False,
    }
    path.write_text(yaml.safe_dump(options))
    return path


@pytest.fixture
def pretrained(tmp_path, monkeypatch, dummy_architecture, ethanol_gfn2) -> Path:
    """A dummy model trained on frames of the first half of the GFN2 trajectory."""
    monkeypatch.chdir(tmp_path)
    half = tmp_path / "gfn2_first_half.xyz"
    ase.io.write(half, ase.io.read(ethanol_gfn2, index="0:500:5"))
    targets = {"energy": {"unit": "eV", "forces": True}}
    options = _options(tmp_path / "pretrain.yaml", half, targets)
    return train(options, output=tmp_path / "pretrained.pt").checkpoint


def _dft_targets() -> Dict[str, Any]:
    return {"energy/dft": {"key": "energy", "unit": "kcal/mol", "forces": True}}


def _energies(model: torch.nn.Module, path: Path, target: str) -> torch.Tensor:
    options = validate_options(
        {
            "architecture": {"name": "dummy"},
            "training_set": {
                "systems": str(path),
                "targets": {"energy": {"unit": "eV", "forces": False}},
            },
            "validation_set": 0.0,
            "test_set": 0.0,
        },
        None,
        path.parent,
    )
    dataset = load_datasets(options).training[0]
    builder = BatchBuilder(model.requested_neighbor_lists(), {})
    batch = builder(dataset, list(range(8)))
    output = model.dataset_info.targets[target].model_output()
    with torch.no_grad():
        return model.eval()(batch.systems, {target: output})[target].block().values


@pytest.mark.parametrize("method", ["full", "heads", "lora"])
def test_each_method_starts_from_the_pretrained_predictions(
    pretrained, tmp_path, resources, ethanol_gfn2, method
):
    finetune = {
        "read_from": str(pretrained),
        "method": method,
        "inherit_heads": {"energy/dft": "energy"},
    }
    if method == "lora":
        finetune["config"] = {"rank": 2, "alpha": 2.0}
    options = _options(
        tmp_path / f"{method}.yaml",
        resources / "ethanol_reduced_100.xyz",
        _dft_targets(),
        finetune=finetune,
    )
    result = train(options, output=tmp_path / f"{method}.pt")

    log = (result.run_dir / "train.log").read_text()
    assert "step-0 check passed" in log
    assert "reproduces the pretrained predictions of energy on 4" in log
    assert "head copied from energy" in log
    assert f"method {method}" in log

    before = load_model(pretrained, "export")
    after = load_model(result.checkpoint, "export")
    assert set(after.dataset_info.targets) == {"energy", "energy/dft"}
    checkpoint_keys = set(after.state_dict())
    assert not any("lora" in key for key in checkpoint_keys)
    assert checkpoint_keys == set(before.state_dict()) | {
        "heads.energy/dft.weight",
        "heads.energy/dft.bias",
    } | {k for k in checkpoint_keys if k.startswith("composition_baseline")}

    gfn2 = tmp_path / "gfn2_second_half.xyz"
    ase.io.write(gfn2, ase.io.read(ethanol_gfn2, index="500:508"))
    old = _energies(before, gfn2, "energy")
    kept = _energies(after, gfn2, "energy")
    if method == "heads":
        # the backbone and the old head are frozen, the old baseline kept
        torch.testing.assert_close(kept, old, rtol=1e-12, atol=1e-9)
        backbone = {k: v for k, v in before.state_dict().items() if "network" in k}
        for key, value in backbone.items():
            torch.testing.assert_close(after.state_dict()[key], value)
    else:
        assert not torch.allclose(kept, old, rtol=0.0, atol=1e-9)
    assert torch.isfinite(_energies(after, gfn2, "energy/dft")).all()


def test_a_target_in_another_unit_needs_a_new_name(pretrained, tmp_path, resources):
    targets = {"energy": {"unit": "kcal/mol", "forces": True}}
    options = _options(
        tmp_path / "unit.yaml",
        resources / "ethanol_reduced_100.xyz",
        targets,
        finetune={"read_from": str(pretrained)},
    )
    with pytest.raises(OptionsError) as error:
        train(options)
    message = str(error.value)
    assert "training_set.targets.energy" in message
    assert "'eV'" in message and "'kcal/mol'" in message
    assert "energy/<variant>" in message


def test_new_elements_the_architecture_cannot_take_are_named(
    pretrained, tmp_path, resources
):
    targets = {"energy/qm9": {"key": "U0", "unit": "hartree", "forces": False}}
    options = _options(
        tmp_path / "qm9.yaml",
        resources / "qm9_reduced_100.xyz",
        targets,
        finetune={"read_from": str(pretrained), "method": "heads"},
    )
    with pytest.raises(
        UserError, match=r"elements \[7\] that the model was not built for"
    ):
        train(options)


def test_inherit_heads_must_name_a_new_and_an_old_target(
    pretrained, tmp_path, resources
):
    options = _options(
        tmp_path / "inherit.yaml",
        resources / "ethanol_reduced_100.xyz",
        _dft_targets(),
        finetune={"read_from": str(pretrained), "inherit_heads": {"energy/dft": "U0"}},
    )
    with pytest.raises(OptionsError, match=r"finetune\.inherit_heads\.energy/dft"):
        train(options)


def test_step_zero_check_catches_a_changed_model(pretrained, tmp_path, resources):
    model = load_model(pretrained, "finetune")
    damaged = copy.deepcopy(model)
    with torch.no_grad():
        damaged.network[0].weight.mul_(1.01)
    options = validate_options(
        yaml.safe_load(
            _options(
                tmp_path / "check.yaml",
                resources / "ethanol_reduced_100.xyz",
                _dft_targets(),
            ).read_text()
        ),
        None,
        tmp_path,
    )
    datasets = load_datasets(options).training
    report = step_zero_check(model, copy.deepcopy(model), datasets)
    assert report.targets == ["energy"] and report.num_structures == 4
    assert report.differences["energy"] == 0.0
    with pytest.raises(StepZeroMismatch, match="predicts 'energy' differently"):
        step_zero_check(model, damaged, datasets)


def _epoch_losses(run_dir: Path) -> Dict[str, str]:
    with open(run_dir / "train.csv") as file:
        rows = [row for row in csv.DictReader(file) if row["epoch"].isdigit()]
    return {row["epoch"]: row["train.loss"] for row in rows}


@pytest.mark.parametrize(
    ("method", "keep_adapters"), [("lora", True), ("lora", False), ("heads", True)]
)
def test_a_restarted_finetuning_run_continues_exactly(
    pretrained, tmp_path, resources, method, keep_adapters
):
    finetune: Dict[str, Any] = {"read_from": str(pretrained), "method": method}
    if method == "lora":
        finetune["config"] = {"rank": 2, "alpha": 4.0}
    options = _options(
        tmp_path / "lora.yaml",
        resources / "ethanol_reduced_100.xyz",
        _dft_targets(),
        finetune=finetune,
        num_epochs=4,
        checkpoint_interval=2,
        learning_rate=1e-2,
    )
    whole = train(options, output=tmp_path / "whole.pt")
    middle = read_checkpoint_file(whole.run_dir / "model_1.ckpt")
    if method == "lora":
        adapters = middle[CHECKPOINT_SECTION]
        assert sorted(adapters) == ["network.0", "network.2"]
        assert float(adapters["network.0"]["lora_b"].abs().max()) > 0.0
    else:
        assert CHECKPOINT_SECTION not in middle
    # the architecture reads the same checkpoint as its plain self
    load_model(whole.run_dir / "model_1.ckpt", "export")
    if not keep_adapters:
        del middle[CHECKPOINT_SECTION]
    write_checkpoint_file(middle, whole.run_dir / "middle.ckpt")

    resumed = train(
        options,
        output=tmp_path / "resumed.pt",
        restart=str(whole.run_dir / "middle.ckpt"),
    )
    before, after = _epoch_losses(whole.run_dir), _epoch_losses(resumed.run_dir)
    assert list(after) == ["2", "3"]
    final = read_checkpoint_file(resumed.checkpoint)
    reference = read_checkpoint_file(whole.checkpoint)
    if keep_adapters:
        assert after == {epoch: before[epoch] for epoch in after}
        for key, value in reference["model"]["state_dict"].items():
            torch.testing.assert_close(
                final["model"]["state_dict"][key], value, rtol=0, atol=0
            )
    else:
        # new adapters from the merged weights: the run goes on, but differently
        assert after["2"] != before["2"]
    # the final checkpoint keeps the adapters, the exported model is merged
    if method == "lora":
        assert set(final[CHECKPOINT_SECTION]) == {"network.0", "network.2"}
    exported = load_atomistic_model(str(resumed.model))
    assert not any("lora" in name for name, _ in exported.named_parameters())


class Backbone(torch.nn.Module):
    """Linear layers and no heads (no WithHeads)."""

    def __init__(self) -> None:
        super().__init__()
        self.first = torch.nn.Linear(3, 4)
        self.second = torch.nn.Linear(4, 1)


def test_the_lora_log_says_when_no_head_is_trained():
    settings = finetune_settings(
        {"finetune": {"method": "lora", "read_from": "model.ckpt", "config": {}}}
    )
    assert settings is not None
    description = _trainable(Backbone(), settings, ["energy"], [])
    assert description.endswith(
        "on first, second; also trained: no head (Backbone declares none for energy)"
    )
