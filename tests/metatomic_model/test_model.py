"""The metatomic model: units, trainable parameters, evaluation mode, the executor
it runs under, plain-data checkpoints and the exported model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import ase.io
import numpy as np
import pytest
import torch
from metatomic.torch import load_atomistic_model, unit_conversion_factor
from metatomic_ase import MetatomicCalculator
from metatomic_helpers import ethanol

from atomtrain.checkpoints import write_checkpoint_file
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure
from atomtrain.metatomic_model.model import NOTE_KEY, MetatomicModel
from atomtrain.metatomic_model.pretrained import predict_energies
from atomtrain.metatomic_model.step_zero import check_step_zero

RESOURCES = Path(__file__).parents[1] / "resources"
KCAL = TargetInfo(quantity="energy", unit="kcal/mol", gradients=("positions",))
EV = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))


def build(path: Path, target: TargetInfo = KCAL, **changes: Any) -> MetatomicModel:
    hypers: Dict[str, Any] = {"path": str(path), "extensions": None, "trainable": ["*"]}
    hypers.update(changes)
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": target})
    return MetatomicModel(hypers, info).to(torch.float64).eval()  # type: ignore[arg-type]


def energies_and_forces(model: MetatomicModel, unit: TargetInfo) -> List[Any]:
    return predict_energies(model, ethanol(), "energy", unit, forces=True)


@pytest.mark.parametrize("fixture", ["handmade_file", "pet_file", "soap_file"])
def test_outputs_are_converted_to_the_dataset_units(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    path = request.getfixturevalue(fixture)
    in_ev = energies_and_forces(build(path, EV), EV)
    in_kcal = energies_and_forces(build(path, KCAL), KCAL)
    factor = unit_conversion_factor("eV", "kcal/mol")
    calculator = MetatomicCalculator(str(path))
    for frame, ev, kcal in zip(
        ase.io.read(RESOURCES / "ethanol_reduced_100.xyz", ":6"), in_ev, in_kcal
    ):
        torch.testing.assert_close(kcal.energy, factor * ev.energy, rtol=1e-12, atol=0)
        torch.testing.assert_close(
            kcal.gradient, factor * ev.gradient, rtol=1e-12, atol=0
        )
        frame.calc = calculator
        with np.errstate(invalid="ignore"):
            assert float(ev.energy) == pytest.approx(
                frame.get_potential_energy(), rel=1e-10
            )
            forces = frame.get_forces()
        np.testing.assert_allclose(
            -ev.gradient[..., 0].numpy(), forces, rtol=1e-8, atol=1e-12
        )


def _in_bohr(dataset: Any) -> InMemoryDataset:
    """``dataset`` with its positions and cells in bohr."""
    to_bohr = unit_conversion_factor("angstrom", "bohr")
    structures = [
        Structure(s.types, s.positions * to_bohr, s.cell * to_bohr, s.pbc)
        for s in (dataset[i] for i in range(len(dataset)))
    ]
    info = DatasetInfo(length_unit="bohr", atomic_types=[1, 6, 8], targets={})
    return InMemoryDataset(
        structures, info, [dataset.origin(i) for i in range(len(dataset))]
    )


@pytest.mark.parametrize("fixture", ["handmade_file", "pet_file"])
def test_lengths_are_converted_to_the_model_unit(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    path = request.getfixturevalue(fixture)
    in_angstrom = energies_and_forces(build(path, EV), EV)
    hypers = {"path": str(path), "extensions": None, "trainable": ["*"]}
    info = DatasetInfo(
        length_unit="bohr", atomic_types=[1, 6, 8], targets={"energy": EV}
    )
    model = MetatomicModel(hypers, info).to(torch.float64).eval()  # type: ignore
    (cutoff,) = [options.cutoff for options in model.requested_neighbor_lists()]
    assert cutoff == pytest.approx(4.0 * unit_conversion_factor("angstrom", "bohr"))
    in_bohr = predict_energies(model, _in_bohr(ethanol()), "energy", EV, forces=True)
    per_bohr = unit_conversion_factor("bohr", "angstrom")
    for angstrom, bohr in zip(in_angstrom, in_bohr):
        torch.testing.assert_close(bohr.energy, angstrom.energy, rtol=1e-12, atol=0)
        torch.testing.assert_close(
            bohr.gradient, angstrom.gradient * per_bohr, rtol=1e-10, atol=1e-14
        )
    # the step-0 check gives the calculator ångström and compares per ångström
    assert max(check_step_zero(model, [_in_bohr(ethanol())])) < 1e-9
    # the export works in bohr, and an engine in angstrom gets the same model
    exported = model.export()
    assert exported.capabilities().length_unit == "bohr"
    assert exported.capabilities().interaction_range == pytest.approx(
        load_atomistic_model(str(path)).capabilities().interaction_range / per_bohr
    )
    exported.save(str(tmp_path / "bohr.pt"))
    calculator = MetatomicCalculator(str(tmp_path / "bohr.pt"))
    reference = MetatomicCalculator(str(path))
    for frame in ase.io.read(RESOURCES / "ethanol_reduced_100.xyz", ":3"):
        frame.calc = calculator
        energy, forces = frame.get_potential_energy(), frame.get_forces()
        frame.calc = reference
        assert energy == pytest.approx(frame.get_potential_energy(), rel=1e-10)
        np.testing.assert_allclose(forces, frame.get_forces(), rtol=1e-8, atol=1e-10)


def test_trainable_patterns_freeze_the_other_parameters(handmade_file: Path) -> None:
    model = build(handmade_file, trainable=["last.*", "offsets"])
    trained = sorted(n for n, p in model.wrapped.named_parameters() if p.requires_grad)
    frozen = sorted(
        n for n, p in model.wrapped.named_parameters() if not p.requires_grad
    )
    assert trained == ["last.bias", "last.weight", "offsets"]
    assert frozen == ["hidden.bias", "hidden.weight", "species"]
    everything = build(handmade_file)
    assert all(p.requires_grad for p in everything.wrapped.parameters())


def test_the_wrapped_model_stays_in_evaluation_mode(handmade_file: Path) -> None:
    model = build(handmade_file).train()
    assert model.training and model.correction.training
    assert not model.wrapped.training
    assert not any(m.training for m in model.wrapped.modules())


def test_the_wrapped_model_runs_outside_the_profiling_executor(
    handmade_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered: List[bool] = []
    original = torch.jit.optimized_execution

    def recording(should_optimize: bool) -> Any:
        entered.append(should_optimize)
        return original(should_optimize)

    monkeypatch.setattr(torch.jit, "optimized_execution", recording)
    energies_and_forces(build(handmade_file), KCAL)
    assert entered and not any(entered)


def test_checkpoints_are_plain_data_and_move_alone(
    handmade_file: Path, tmp_path: Path
) -> None:
    """The checkpoint holds the model file's bytes: it loads with weights_only=True
    and predicts the same once the model file is gone."""
    copy = tmp_path / "model.pt"
    copy.write_bytes(handmade_file.read_bytes())
    model = build(copy)
    with torch.no_grad():
        model.correction.target_weights("energy").fill_(-3.0)
        next(model.wrapped.parameters()).add_(0.1)
    model.finetuning = {"training_files": {"a.xyz": "0" * 64}}
    write_checkpoint_file(model.get_checkpoint(), tmp_path / "model.ckpt")
    copy.unlink()
    checkpoint = torch.load(tmp_path / "model.ckpt", weights_only=True)
    assert checkpoint["model"]["archive"].dtype == torch.uint8
    loaded = MetatomicModel.load_checkpoint(checkpoint, "export").to(torch.float64)
    assert loaded.finetuning == model.finetuning
    for a, b in zip(
        energies_and_forces(loaded, KCAL), energies_and_forces(model, KCAL)
    ):
        torch.testing.assert_close(a.energy, b.energy, rtol=0, atol=0)
        torch.testing.assert_close(a.gradient, b.gradient, rtol=0, atol=0)


def test_the_export_keeps_the_metadata_and_notes_the_finetuning(
    handmade_file: Path, tmp_path: Path
) -> None:
    model = build(handmade_file)
    with torch.no_grad():
        model.correction.target_weights("energy").copy_(
            torch.tensor([[-10.0], [-20.0], [-30.0]])
        )
    model.finetuning = {"training_files": {"train.xyz": "ab" * 32}, "options": {}}
    path = tmp_path / "finetuned.pt"
    model.export().save(str(path))
    exported = load_atomistic_model(str(path))
    metadata = exported.metadata()
    assert metadata.name == "gaussian pairs"
    assert metadata.authors == ["atomtrain tests"]
    assert metadata.references["model"] == ["https://example.org/gaussian-pairs"]
    assert json.loads(metadata.extra[NOTE_KEY]) == model.finetuning
    capabilities = exported.capabilities()
    assert capabilities.outputs["energy"].unit == "kcal/mol"
    assert "mtt::aux::energy_last_layer_features" in capabilities.outputs
    # the correction adds its per-element weights: ethanol is 6 H, 2 C and 1 O
    ours = energies_and_forces(model, KCAL)
    plain = energies_and_forces(build(handmade_file), KCAL)
    for corrected, uncorrected in zip(ours, plain):
        assert float(corrected.energy - uncorrected.energy) == pytest.approx(-130.0)
    # the exported model in ASE: the fine-tuned energies, correction included
    to_ev = unit_conversion_factor("kcal/mol", "eV")
    calculator = MetatomicCalculator(str(path))
    frames = ase.io.read(RESOURCES / "ethanol_reduced_100.xyz", ":6")
    for frame, prediction in zip(frames, ours):
        frame.calc = calculator
        with np.errstate(invalid="ignore"):
            energy = frame.get_potential_energy()
        assert energy == pytest.approx(float(prediction.energy) * to_ev, rel=1e-10)


def test_the_export_lists_the_extensions_of_the_wrapped_model(
    soap_file: Path, tmp_path: Path
) -> None:
    """atomtrain's SOAP-BPNN needs sphericart's compiled extension: fine-tuned in a
    fresh process (where only metatomic loaded the extension), its export still
    lists it, so that engines load it."""
    import subprocess
    import sys
    import zipfile

    script = (
        "import torch\n"
        "from atomtrain.data.info import DatasetInfo, TargetInfo\n"
        "from atomtrain.metatomic_model.model import MetatomicModel\n"
        "energy = TargetInfo(quantity='energy', unit='eV', gradients=('positions',))\n"
        "info = DatasetInfo(atomic_types=[1, 6, 8], targets={'energy': energy})\n"
        f"hypers = {{'path': {str(soap_file)!r}, 'extensions': None, "
        "'trainable': ['*']}\n"
        "model = MetatomicModel(hypers, info)\n"
        f"model.export().save({str(tmp_path / 'tuned.pt')!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with zipfile.ZipFile(tmp_path / "tuned.pt") as archive:
        name = next(n for n in archive.namelist() if n.endswith("/extra/extensions"))
        listed = json.loads(archive.read(name))
    assert [entry["name"] for entry in listed] == ["sphericart_torch"]
