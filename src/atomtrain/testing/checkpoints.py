"""Suite: checkpoints (round trips, golden files of every version, versions)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import torch

from ..checkpoints import (
    checkpoint_fingerprint,
    checkpoint_signature,
    read_checkpoint_file,
)
from ..data.structure import Structure
from ..errors import UserError
from ..utils.abc import ModelInterface
from .base import DEFAULT_VARIANT, ArchitectureFixtures, ModelFactory
from .datafiles import EMT_ENERGY, write_golden_checkpoint
from .probe import Probe, fail

Trained = Tuple[ModelInterface[Any], Any, Path]


def golden_name(architecture: str, model_version: int, trainer_version: int) -> str:
    """File name of the golden checkpoint of one pair of versions."""
    stem = architecture.replace(".", "-")
    return f"{stem}-model-v{model_version}-trainer-v{trainer_version}.ckpt"


def _energies(model: Any, structures: List[Structure]) -> torch.Tensor:
    return Probe(model, {"energy": EMT_ENERGY}).energy(structures)


class CheckpointTests(ArchitectureFixtures):
    """Checkpoints load in every context, old versions upgrade, the format cannot
    change without a version bump, and newer versions are refused."""

    def training_hypers(self, hypers: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
        """The trainer hypers of the suite's short in-memory training runs."""
        training = copy.deepcopy(hypers["training"])
        if self.epoch_based:
            training.update({"num_epochs": 1, "batch_size": 4})
        return training

    def write_checkpoint(
        self,
        build_model: ModelFactory,
        trainer_class: type,
        hypers: Dict[str, Dict[str, Any]],
        directory: Path,
    ) -> Trained:
        """Train a fresh model for one epoch on 12 EMT clusters and write its
        checkpoint to ``directory / 'model.ckpt'`` (see
        :func:`~.datafiles.write_golden_checkpoint`)."""
        model = build_model({"energy": EMT_ENERGY})
        return write_golden_checkpoint(
            lambda _hypers, _info: model,
            trainer_class,
            {"model": {}, "training": self.training_hypers(hypers)},
            self.atomic_types,
            directory,
        )

    @pytest.fixture
    def trained(
        self,
        build_model: ModelFactory,
        trainer_class: type,
        hypers: Dict[str, Dict[str, Any]],
        tmp_path: Path,
    ) -> Trained:
        return self.write_checkpoint(build_model, trainer_class, hypers, tmp_path)

    def upgraded(self, path: Path, model_class: Any, trainer_class: Any) -> Dict:
        checkpoint = read_checkpoint_file(path)
        checkpoint = model_class.upgrade_checkpoint(checkpoint)
        return dict(trainer_class.upgrade_checkpoint(checkpoint))

    @pytest.mark.parametrize("context", ["restart", "finetune", "export"])
    def test_round_trip(
        self,
        context: str,
        trained: Trained,
        model_class: Any,
        trainer_class: Any,
        hypers: Dict[str, Dict[str, Any]],
        structures: List[Structure],
    ) -> None:
        model, _, path = trained
        checkpoint = self.upgraded(path, model_class, trainer_class)
        loaded = model_class.load_checkpoint(checkpoint, context=context)
        loaded = loaded.to(torch.float64).eval()
        if loaded.dataset_info != model.dataset_info:
            raise fail(
                f"the model loaded for '{context}' has another dataset_info",
                "store dataset_info.to_dict() in get_checkpoint() and rebuild it with "
                "DatasetInfo.from_dict() in load_checkpoint()",
            )
        got, expected = _energies(loaded, structures), _energies(model, structures)
        if not torch.allclose(got, expected, rtol=1e-10, atol=1e-12):
            raise fail(
                f"the model loaded for '{context}' predicts {got.tolist()}, the saved "
                f"one {expected.tolist()}",
                "store every weight and buffer needed by forward in the checkpoint "
                "(state_dict and the composition baseline) and load them back",
            )
        if context != "export":
            trainer = trainer_class.load_checkpoint(
                checkpoint, self.training_hypers(hypers), context=context
            )
            if not isinstance(trainer, trainer_class):
                raise fail(
                    f"{trainer_class.__qualname__}.load_checkpoint returned "
                    f"{type(trainer).__qualname__}",
                    "return an instance of the trainer class",
                )

    @pytest.mark.parametrize("section", ["model", "trainer"])
    def test_a_newer_version_is_refused(
        self, section: str, trained: Trained, model_class: Any, trainer_class: Any
    ) -> None:
        checkpoint = read_checkpoint_file(trained[2])
        owner = model_class if section == "model" else trainer_class
        checkpoint[f"{section}_checkpoint_version"] = owner.__checkpoint_version__ + 1
        try:
            owner.upgrade_checkpoint(checkpoint)
        except UserError as error:
            if "newer" not in str(error):
                raise fail(
                    f"a too-new {section} checkpoint raised: {error}",
                    "say that a newer atomtrain (or architecture) is needed",
                ) from error
            return
        raise fail(
            f"a {section} checkpoint of version {owner.__checkpoint_version__ + 1} "
            f"was accepted by {owner.__qualname__}.upgrade_checkpoint",
            "implement upgrade_checkpoint with atomtrain.checkpoints.upgrade(checkpoint"
            f", '{section}', cls.__checkpoint_version__, UPGRADE_STEPS), which refuses "
            "newer versions",
        )

    def test_golden_checkpoints_load_through_the_upgrades(
        self,
        golden_directory: Path,
        architecture_name: str,
        model_class: Any,
        trainer_class: Any,
        structures: List[Structure],
    ) -> None:
        stem = architecture_name.replace(".", "-")
        paths = sorted(golden_directory.glob(f"{stem}-model-v*-trainer-v*.ckpt"))
        if not paths:
            raise fail(
                f"no golden checkpoint '{stem}-model-v*-trainer-v*.ckpt' in "
                f"{golden_directory}",
                "run test_format_unchanged_without_version_bump: it writes the "
                "golden checkpoint of the current versions and says where to put it",
            )
        for path in paths:
            checkpoint = self.upgraded(path, model_class, trainer_class)
            model = model_class.load_checkpoint(checkpoint, context="export")
            model = model.to(torch.float64).eval()
            trainer_class.load_checkpoint(
                checkpoint, checkpoint["trainer"]["hypers"], context="restart"
            )
            energies = _energies(model, structures)
            if not bool(torch.isfinite(energies).all()):
                raise fail(
                    f"the model upgraded from {path.name} predicts {energies.tolist()}",
                    "fix the upgrade steps from that version",
                )

    def test_format_unchanged_without_version_bump(
        self,
        golden_directory: Path,
        architecture_name: str,
        hypers_variant: str,
        build_model: ModelFactory,
        model_class: Any,
        trainer_class: Any,
        hypers: Dict[str, Dict[str, Any]],
        tmp_path: Path,
    ) -> None:
        if hypers_variant != DEFAULT_VARIANT:
            pytest.skip("the golden checkpoints are those of the default hypers")
        name = golden_name(
            architecture_name,
            model_class.__checkpoint_version__,
            trainer_class.__checkpoint_version__,
        )
        _, _, fresh_path = self.write_checkpoint(
            build_model, trainer_class, hypers, tmp_path
        )
        written = tmp_path / name
        fresh_path.rename(written)
        golden = golden_directory / name
        if not golden.is_file():
            raise fail(
                f"no golden checkpoint {golden} for the current versions; a new one "
                f"was written to {written}",
                f"copy it there: cp {written} {golden} (and commit it)",
            )
        stored, fresh = read_checkpoint_file(golden), read_checkpoint_file(written)
        for section in ("model", "trainer", None):
            old: Any
            new: Any
            if section is None:
                old = {k: v for k, v in stored.items() if k not in ("model", "trainer")}
                new = {k: v for k, v in fresh.items() if k not in ("model", "trainer")}
            else:
                old, new = stored.get(section), fresh.get(section)
            if checkpoint_fingerprint(old) != checkpoint_fingerprint(new):
                owner = section or "model"
                version = (
                    trainer_class if owner == "trainer" else model_class
                ).__checkpoint_version__
                raise fail(
                    f"the {section or 'top-level'} checkpoint format changed but "
                    f"__checkpoint_version__ did not.\n  golden: "
                    f"{checkpoint_signature(old)}\n  now:    "
                    f"{checkpoint_signature(new)}",
                    f"if version {version} of the {owner} was never released (no "
                    "user can have a checkpoint of it, as the scaffold's version 1 "
                    "while the architecture is written), regenerate its golden "
                    f"file: cp {written} {golden}. If it was released, keep that "
                    f"file: bump the {owner}'s __checkpoint_version__ to "
                    f"{version + 1}, add the one-step upgrade from {version} to "
                    "upgrade_checkpoint (renamed or changed tensors in every copy of "
                    "the weights: atomtrain.checkpoints.rename_parameters or "
                    "upgrade_weights), run this test again and copy the file it "
                    f"writes to {golden_directory}",
                )
