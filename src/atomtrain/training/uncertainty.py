"""Calibration of a model's uncertainty outputs on labelled data, for ``atomtrain
eval`` and the final evaluation of a training run.

Any metatomic model whose capabilities have ``<t>_uncertainty`` (``energy_uncertainty``,
``energy_uncertainty/pbe`` for the variant ``energy/pbe``) next to a labelled target
``t`` is asked for it in the target's unit; :class:`UncertaintyCalibration` collects
the errors and the predicted standard deviations batch by batch and gives the fraction
of errors within ±1 sigma and ±2 sigma (:func:`coverage`), to compare with
the Gaussian 68.3 % and 95.4 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Mapping

import torch
from metatensor.torch import TensorMap
from metatomic.torch import ModelOutput

from ..data.info import TargetInfo


def uncertainty_name(target: str) -> str:
    """``energy`` → ``energy_uncertainty``, ``energy/pbe`` →
    ``energy_uncertainty/pbe``."""
    base, _, variant = target.partition("/")
    return f"{base}_uncertainty" + (f"/{variant}" if variant else "")


GAUSSIAN_ONE_SIGMA = math.erf(1 / math.sqrt(2))
GAUSSIAN_TWO_SIGMA = math.erf(2 / math.sqrt(2))


@dataclass(frozen=True)
class Coverage:
    """Fractions of errors within ±1 sigma and ±2 sigma."""

    one_sigma: float
    two_sigma: float
    count: int

    def message(self, where: str, target: str) -> str:
        return (
            f"calibration of {target} on {where} ({self.count} structures): "
            f"{100 * self.one_sigma:.1f} % of errors within ±1 sigma (Gaussian "
            f"{100 * GAUSSIAN_ONE_SIGMA:.1f} %), {100 * self.two_sigma:.1f} % within "
            f"±2 sigma (Gaussian {100 * GAUSSIAN_TWO_SIGMA:.1f} %)"
        )


def coverage(errors: torch.Tensor, sigmas: torch.Tensor) -> Coverage:
    """How often ``|error| <= sigma`` and ``<= 2 sigma``."""
    ratio = errors.abs().to(torch.float64) / sigmas.to(torch.float64)
    return Coverage(
        float((ratio <= 1.0).double().mean()),
        float((ratio <= 2.0).double().mean()),
        int(ratio.numel()),
    )


class UncertaintyCalibration:
    """Errors and uncertainties of the ``targets`` that the model gives an
    uncertainty for, accumulated over batches."""

    def __init__(
        self, model_outputs: Mapping[str, ModelOutput], targets: Dict[str, TargetInfo]
    ) -> None:
        self.targets = {
            name: info
            for name, info in targets.items()
            if uncertainty_name(name) in model_outputs
        }
        self.errors: Dict[str, List[torch.Tensor]] = {n: [] for n in self.targets}
        self.sigmas: Dict[str, List[torch.Tensor]] = {n: [] for n in self.targets}

    def outputs(self) -> Dict[str, ModelOutput]:
        """The uncertainty outputs to request, in the units of the labels."""
        return {
            uncertainty_name(name): ModelOutput(
                unit=info.unit, sample_kind=info.sample_kind
            )
            for name, info in self.targets.items()
        }

    def update(
        self, predictions: Dict[str, TensorMap], labels: Dict[str, TensorMap]
    ) -> None:
        """Add the labelled values of one batch (unlabelled ones, NaN, skipped)."""
        for name in self.targets:
            if name not in labels or len(labels[name]) == 0:
                continue
            predicted = _values(predictions[name])
            label = _values(labels[name])
            sigma = _values(predictions[uncertainty_name(name)])
            if not predicted.shape[0] == label.shape[0] == sigma.shape[0]:
                raise ValueError(
                    f"'{uncertainty_name(name)}' has {sigma.shape[0]} samples, "
                    f"'{name}' {predicted.shape[0]} and its labels {label.shape[0]}"
                )
            known = torch.isfinite(label).all(dim=1)
            errors = (predicted - label)[known]
            self.errors[name].append(errors.reshape(-1))
            self.sigmas[name].append(sigma[known].expand_as(errors).reshape(-1))

    def coverages(self) -> Dict[str, Coverage]:
        """Fractions within ±1 and ±2 sigma of each target with labelled values."""
        return {
            name: coverage(torch.cat(self.errors[name]), torch.cat(self.sigmas[name]))
            for name in self.targets
            if self.errors[name] and sum(e.numel() for e in self.errors[name]) > 0
        }


def _values(tensor: TensorMap) -> torch.Tensor:
    """``[n_samples, everything else]`` in float64, detached."""
    values = torch.cat([block.values for block in tensor.blocks()])
    return values.detach().to(torch.float64).reshape(values.shape[0], -1)


def calibration_lines(coverages: Dict[str, Coverage]) -> List[str]:
    """One line per target: the fractions within ±1 and ±2 sigma next to the
    Gaussian ones."""
    return [
        f"{uncertainty_name(name)}: {100 * check.one_sigma:.1f} % of errors within "
        f"±1 sigma (Gaussian {100 * GAUSSIAN_ONE_SIGMA:.1f} %), "
        f"{100 * check.two_sigma:.1f} % within ±2 sigma (Gaussian "
        f"{100 * GAUSSIAN_TWO_SIGMA:.1f} %), over {check.count} values"
        for name, check in coverages.items()
    ]
