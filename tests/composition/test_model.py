"""The composition model: construction, export, TorchScript, checkpoints and the golden
checkpoint files.

Run ``python tests/composition/test_model.py`` to write the golden checkpoint of the
current ``CompositionModel.__checkpoint_version__`` (only after bumping it).
"""

import sys
from pathlib import Path
from typing import List

import ase.io
import numpy as np
import pytest
import torch
from metatomic.torch import ModelOutput, System, unit_conversion_factor
from metatomic_ase import MetatomicCalculator

from atomtrain.checkpoints import (
    CheckpointVersionError,
    checkpoint_fingerprint,
    checkpoint_signature,
    read_checkpoint_file,
    write_checkpoint_file,
)
from atomtrain.composition import CompositionModel, Trainer
from atomtrain.composition.model import UnsupportedTargetError
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo

GOLDEN = Path(__file__).parents[1] / "resources" / "checkpoints"
CURRENT_GOLDEN = (
    GOLDEN / f"composition-model-v{CompositionModel.__checkpoint_version__}.ckpt"
)


def fitted(dataset: InMemoryDataset) -> CompositionModel:
    model = CompositionModel({}, dataset.info)
    Trainer({"atomic_baseline": {}}).train(
        model, torch.float64, [torch.device("cpu")], [dataset], [dataset], ""
    )
    return model


def golden_checkpoint(dataset: InMemoryDataset, path: Path) -> None:
    """The golden checkpoint: a model fitted on the ethanol energies, with its trainer
    section."""
    Trainer({"atomic_baseline": {"energy": {}}}).save_checkpoint(fitted(dataset), path)


def systems_of(dataset: InMemoryDataset) -> List[System]:
    return [s.to_system() for s in dataset]


def energies(model: torch.nn.Module, dataset: InMemoryDataset) -> torch.Tensor:
    outputs = model(systems_of(dataset), {"energy": ModelOutput()})
    return outputs["energy"].block().values


def test_targets_it_cannot_model_are_all_named(ethanol):
    info = DatasetInfo(
        atomic_types=[1, 6, 8],
        targets={
            **ethanol.info.targets,
            "mtt::polarizability": TargetInfo(kind="cartesian", rank=2),
            "mtt::dipole": TargetInfo(kind="spherical", irreps=((1, 1),)),
        },
    )
    with pytest.raises(UnsupportedTargetError) as error:
        CompositionModel({}, info)
    message = str(error.value)
    assert "'mtt::polarizability' (cartesian rank 2)" in message
    assert "'mtt::dipole' (spherical)" in message


def test_supported_outputs_follow_the_targets(ethanol):
    info = DatasetInfo(
        atomic_types=[1, 6, 8],
        targets={**ethanol.info.targets, "mtt::charge": TargetInfo(sample_kind="atom")},
    )
    outputs = CompositionModel({}, info).supported_outputs()
    assert list(outputs) == ["energy", "mtt::charge"]
    assert outputs["energy"].unit == "kcal/mol"
    assert outputs["energy"].sample_kind == "system"
    assert outputs["mtt::charge"].sample_kind == "atom"


def test_export_runs_in_ase_with_the_fitted_energies(ethanol, resources, tmp_path):
    model = fitted(ethanol)
    exported = model.export()
    capabilities = exported.capabilities()
    assert capabilities.interaction_range == 0.0
    assert capabilities.dtype == "float64"
    assert capabilities.atomic_types == [1, 6, 8]
    exported.save(str(tmp_path / "model.pt"))

    atoms = ase.io.read(resources / "ethanol_reduced_100.xyz", "3")
    atoms.calc = MetatomicCalculator(str(tmp_path / "model.pt"))
    expected = float(
        model.composition_baseline.contributions(ethanol[3].types, "energy")[0, 0]
    )
    kcal_to_ev = unit_conversion_factor("kcal/mol", "eV")
    assert atoms.get_potential_energy() == pytest.approx(
        expected * kcal_to_ev, rel=1e-12
    )
    forces = atoms.get_forces()
    assert forces.shape == (9, 3)
    assert np.all(forces == 0.0)


def test_export_in_float32(ethanol):
    model = fitted(ethanol).to(torch.float32)
    assert model.composition_baseline.target_weights("energy").dtype == torch.float64
    assert model.export().capabilities().dtype == "float32"


def test_torchscript_save_and_load(ethanol, tmp_path):
    model = fitted(ethanol).eval()
    subset = ethanol.subset([0, 1, 2])
    torch.jit.save(torch.jit.script(model), tmp_path / "model.pt")
    loaded = torch.jit.load(tmp_path / "model.pt")
    torch.testing.assert_close(energies(loaded, subset), energies(model, subset))


@pytest.mark.parametrize("context", ["restart", "finetune", "export"])
def test_checkpoint_round_trip(ethanol, tmp_path, context):
    model = fitted(ethanol)
    path = tmp_path / "model.ckpt"
    write_checkpoint_file(model.get_checkpoint(), path)
    checkpoint = CompositionModel.upgrade_checkpoint(read_checkpoint_file(path))
    loaded = CompositionModel.load_checkpoint(checkpoint, context=context)
    assert loaded.dataset_info == model.dataset_info
    assert loaded.hypers == model.hypers
    torch.testing.assert_close(energies(loaded, ethanol), energies(model, ethanol))


def test_restart_adds_types_and_targets_and_keeps_weights(ethanol):
    model = fitted(ethanol)
    before = model.composition_baseline.target_weights("energy").clone()
    more = DatasetInfo(
        atomic_types=[1, 7],
        targets={"mtt::gap": TargetInfo(quantity="energy", unit="Hartree")},
    )
    restarted = model.restart(more)
    assert restarted.dataset_info.atomic_types == [1, 6, 7, 8]
    assert list(restarted.supported_outputs()) == ["energy", "mtt::gap"]
    after = restarted.composition_baseline.target_weights("energy")
    torch.testing.assert_close(after[[0, 1, 3]], before)
    torch.testing.assert_close(
        energies(restarted, ethanol), energies(fitted(ethanol), ethanol)
    )


def test_a_newer_checkpoint_is_refused(ethanol):
    checkpoint = fitted(ethanol).get_checkpoint()
    checkpoint["model_checkpoint_version"] = CompositionModel.__checkpoint_version__ + 1
    with pytest.raises(CheckpointVersionError, match="needs a newer atomtrain"):
        CompositionModel.upgrade_checkpoint(checkpoint)


def test_the_golden_checkpoint_of_this_version_exists():
    assert CURRENT_GOLDEN.is_file(), (
        f"no golden checkpoint {CURRENT_GOLDEN.name}: run "
        "'python tests/composition/test_model.py' to write it"
    )


# the conformance suite keeps its own golden files, named with both versions
@pytest.mark.parametrize(
    "path",
    sorted(
        p for p in GOLDEN.glob("composition-model-v*.ckpt") if "trainer" not in p.name
    ),
    ids=str,
)
def test_golden_checkpoints_load_upgrade_and_evaluate(path, ethanol):
    checkpoint = read_checkpoint_file(path)
    checkpoint = CompositionModel.upgrade_checkpoint(checkpoint)
    checkpoint = Trainer.upgrade_checkpoint(checkpoint)
    assert (
        checkpoint["model_checkpoint_version"]
        == CompositionModel.__checkpoint_version__
    )
    assert checkpoint["trainer_checkpoint_version"] == Trainer.__checkpoint_version__
    model = CompositionModel.load_checkpoint(checkpoint, context="export")
    Trainer.load_checkpoint(
        checkpoint, checkpoint["trainer"]["hypers"], context="restart"
    )
    # fitted on one composition: every conformer is predicted the mean energy
    labels = torch.cat([s.targets["energy"].blocks[0] for s in ethanol])
    torch.testing.assert_close(
        energies(model, ethanol), torch.full_like(labels, float(labels.mean()))
    )


def test_the_format_does_not_change_without_a_version_bump(ethanol, tmp_path):
    golden = read_checkpoint_file(CURRENT_GOLDEN)
    golden_checkpoint(ethanol, tmp_path / "fresh.ckpt")
    fresh = read_checkpoint_file(tmp_path / "fresh.ckpt")
    for section in ("model", "trainer"):
        key = f"{section}_checkpoint_version"
        assert fresh[key] == golden[key]
        assert checkpoint_fingerprint(fresh[section]) == checkpoint_fingerprint(
            golden[section]
        ), (
            f"the {section} checkpoint format changed but its version did not "
            f"(still {fresh[key]}): bump __checkpoint_version__, add an upgrade step "
            "from the old version and store a new golden file "
            "('python tests/composition/test_model.py').\n"
            f"golden: {checkpoint_signature(golden[section])}\n"
            f"fresh:  {checkpoint_signature(fresh[section])}"
        )
    top = {k: v for k, v in fresh.items() if k not in ("model", "trainer")}
    golden_top = {k: v for k, v in golden.items() if k not in ("model", "trainer")}
    assert checkpoint_fingerprint(top) == checkpoint_fingerprint(golden_top)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from composition_data import ENERGY_KCAL, energy, xyz_dataset

    data = Path(__file__).parents[1] / "resources" / "ethanol_reduced_100.xyz"
    dataset = xyz_dataset(data, {"energy": energy}, {"energy": ENERGY_KCAL})
    GOLDEN.mkdir(parents=True, exist_ok=True)
    golden_checkpoint(dataset, CURRENT_GOLDEN)
    print(f"wrote {CURRENT_GOLDEN}")
