"""The LLPR "trainer": features over the training set, calibration on the validation
set, and the coverage check. No weight is trained."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple

import torch
from metatensor.torch import TensorMap
from metatomic.torch import ModelOutput

from atomtrain.checkpoints import upgrade, write_checkpoint_file
from atomtrain.data.batching import Batch
from atomtrain.data.dataset import Dataset
from atomtrain.data.neighbors import requested_neighbor_lists
from atomtrain.errors import OptionsError, Problem, UserError
from atomtrain.training.logging import LOGGER
from atomtrain.training.predict import (
    batch_predictions,
    evaluation_batches,
    predict,
)
from atomtrain.training.settings import HypersView
from atomtrain.training.uncertainty import coverage
from atomtrain.utils.abc import (
    ModelInterface,
    TrainerCheckpointContext,
    TrainerInterface,
)

from .calibration import Calibration, calibrate, variances
from .documentation import TrainerHypers
from .model import LLPRModel, TargetUncertainty, features_name, load_wrapped

#: Where users write the checkpoint to wrap, for error messages.
MODEL_CHECKPOINT = "architecture.training.model_checkpoint"


def collect(
    model: ModelInterface[Any],
    datasets: List[Dataset],
    target: str,
    dtype: torch.dtype,
    batch_size: int,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Last-layer features ``[n, F]`` and errors ``[n]`` (prediction - label; NaN
    without a label) of ``target`` over ``datasets``, in float64."""
    info = model.dataset_info.targets[target]
    extra_outputs = {features_name(target): ModelOutput(sample_kind=info.sample_kind)}

    def predictor(batch: Batch) -> Dict[str, TensorMap]:
        with torch.no_grad():
            return predict(model, batch, {target: info}, False, extra_outputs)

    features: List[torch.Tensor] = []
    errors: List[torch.Tensor] = []
    for dataset in datasets:
        if len(dataset) == 0:
            continue
        lists = requested_neighbor_lists(model, dataset.info.length_unit)
        labelled = {target: info} if target in dataset.info.targets else {}
        batches = evaluation_batches(
            dataset, lists, labelled, dtype, batch_size=batch_size
        )
        for batch, predicted in batch_predictions(batches, predictor):
            phi = predicted[features_name(target)].block().values.to(torch.float64)
            values = predicted[target].block().values.to(torch.float64)[:, 0]
            if target in batch.targets:
                labels = batch.targets[target].block().values.to(torch.float64)[:, 0]
            else:
                labels = torch.full_like(values, float("nan"))
            features.append(phi)
            errors.append(values - labels)
    return torch.cat(features), torch.cat(errors)


def calibrated_targets(
    wrapped: ModelInterface[Any], train_datasets: List[Dataset]
) -> List[str]:
    """The targets of ``wrapped`` that LLPR calibrates: single-property scalars of
    the training set whose last-layer features the model exposes."""
    outputs = wrapped.supported_outputs()
    targets = [
        t
        for t, info in wrapped.dataset_info.targets.items()
        if features_name(t) in outputs
        and info.kind == "scalar"
        and info.num_subtargets == 1
        and any(t in d.info.targets for d in train_datasets)
    ]
    if not targets:
        raise UserError(
            "the model in architecture.training.model_checkpoint exposes no "
            "last-layer features (mtt::aux::<target>_last_layer_features) for a "
            "single-property scalar target of the training set"
        )
    return targets


def store_calibration(llpr: TargetUncertainty, result: Calibration) -> None:
    """Copy ``result`` into ``llpr``, and draw the offsets of its ensemble members
    (if any) from the calibrated covariance of the last-layer weights."""
    llpr.inverse.copy_(result.inverse)
    llpr.scale.fill_(result.scale)
    members = int(llpr.offsets.shape[1])
    if members:
        covariance = result.scale * result.inverse
        factor = torch.linalg.cholesky(
            0.5 * (covariance + covariance.T)
            + 1e-12
            * covariance.diagonal().mean()
            * torch.eye(len(covariance), dtype=torch.float64)
        )
        noise = torch.randn((len(covariance), members), dtype=torch.float64)
        llpr.offsets.copy_(factor @ noise)


@dataclasses.dataclass(frozen=True)
class LLPRTrainerSettings(HypersView):
    """The keys of the LLPR :class:`~.documentation.TrainerHypers`, typed."""

    __declaration__: ClassVar[type] = TrainerHypers

    model_checkpoint: Optional[str]
    regularizer: Optional[float]
    batch_size: int


class LLPRTrainer(TrainerInterface[TrainerHypers]):
    """Computes and calibrates the LLPR of a trained model."""

    __checkpoint_version__ = 1

    def __init__(self, hypers: TrainerHypers) -> None:
        super().__init__(hypers)
        #: the hypers as the trainer reads them, frozen (``self.hypers`` is what
        #: checkpoints store)
        self.settings = LLPRTrainerSettings.from_hypers(hypers)

    def option_problems(self) -> List[Problem]:
        """``model_checkpoint`` is required (its declared default, None, says that
        none was given) and must name a file."""
        path = self.settings.model_checkpoint
        if not path:
            return [
                Problem(
                    MODEL_CHECKPOINT,
                    "required, the checkpoint of the trained model to compute "
                    "uncertainties for",
                )
            ]
        if not Path(path).is_file():
            return [Problem(MODEL_CHECKPOINT, "no such checkpoint file", path)]
        return []

    def dataset_problems(
        self, training: Sequence[Dataset], validation: Sequence[Dataset]
    ) -> List[Problem]:
        """The calibration needs validation structures."""
        if any(len(dataset) for dataset in validation):
            return []
        return [
            Problem(
                "validation_set",
                "LLPR calibrates its uncertainties on the validation set, which is "
                "empty: give a validation file or a fraction of the training set",
            )
        ]

    def _wrapped(self) -> ModelInterface[Any]:
        from atomtrain.checkpoints import read_checkpoint_file

        path = self.settings.model_checkpoint
        problems = self.option_problems()
        if problems or path is None:
            raise OptionsError(problems)
        return load_wrapped(read_checkpoint_file(Path(path)))

    def train(
        self,
        model: ModelInterface[Any],
        dtype: torch.dtype,
        devices: List[torch.device],
        train_datasets: List[Dataset],
        val_datasets: List[Dataset],
        checkpoint_dir: str | Path,
    ) -> None:
        assert isinstance(model, LLPRModel)
        wrapped = self._wrapped().to(dtype=dtype).eval()
        targets = calibrated_targets(wrapped, train_datasets)
        problems = self.dataset_problems(train_datasets, val_datasets)
        if problems:
            raise OptionsError(problems)
        batch_size = self.settings.batch_size
        calibrations = {}
        for target in targets:
            train_features, _ = collect(
                wrapped, train_datasets, target, dtype, batch_size
            )
            features, errors = collect(wrapped, val_datasets, target, dtype, batch_size)
            keep = torch.isfinite(errors)
            calibrations[target] = calibrate(
                train_features.T @ train_features,
                features[keep],
                errors[keep],
                self.settings.regularizer,
            )
            result = calibrations[target]
            sigma = variances(features[keep], result).sqrt()
            check = coverage(errors[keep], sigma)
            LOGGER.info(
                f"LLPR of {target}: regulariser {result.regularizer:.3g}, scale "
                f"{result.scale:.3g}"
            )
            LOGGER.info(check.message("the validation set", target))
        model.attach(
            wrapped, {t: int(c.inverse.shape[0]) for t, c in calibrations.items()}
        )
        for target, result in calibrations.items():
            llpr = model.uncertainties[target]
            assert isinstance(llpr, TargetUncertainty)
            store_calibration(llpr, result)

    def save_checkpoint(self, model: ModelInterface[Any], path: str | Path) -> None:
        data = model.get_checkpoint()
        data["trainer_checkpoint_version"] = self.__checkpoint_version__
        data["trainer"] = {"hypers": dict(self.hypers), "state": None}
        write_checkpoint_file(data, path)

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "trainer", cls.__checkpoint_version__, {})

    @classmethod
    def load_checkpoint(
        cls,
        checkpoint: Dict[str, Any],
        hypers: TrainerHypers,
        context: TrainerCheckpointContext,
    ) -> LLPRTrainer:
        return cls(hypers)
