"""RMSE and MAE of every target and gradient, accumulated exactly over an epoch.

Errors are summed (squares and absolute values, in float64) with their counts, so the
epoch value does not depend on how structures were split into batches. Names are
``<target>.<rmse|mae>`` and ``<target>.<forces|virial|stress>.<rmse|mae>``, and for a
spherical target of several irreps also ``<target>.irrep_<λ>_<σ>.<rmse|mae>`` (the
errors of that block alone, e.g. ``polarizability.irrep_2_1.mae``); values are
in the user's units: per atom for per-structure targets normalised by the number of
atoms, forces = -dE/dr (unit/length), virial = -dE/dε (unit), stress = dE/dε / V
(unit/length³, only for structures with a non-zero cell volume). NaN labels (absent
ones, such as the stress of a structure without a cell) are skipped; a NaN prediction
of a present label makes the metric NaN rather than disappear from it.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import torch
from metatensor.torch import TensorMap

from ..data.info import TargetInfo
from ..data.targets import GRADIENT_OF
from ..errors import OptionsError
from .hypers import PRODUCT_METRICS, best_metric_problem

#: The gradient quantities of the metrics, in the column order of the logs and of
#: ``metrics.csv`` (kept so that the columns of earlier runs keep their place); each
#: is computed from its gradient in :data:`~atomtrain.data.targets.GRADIENT_OF`.
_GRADIENT_QUANTITIES: Dict[str, str] = {
    quantity: GRADIENT_OF[quantity] for quantity in ("forces", "virial", "stress")
}


def irrep_quantities(info: TargetInfo) -> Dict[str, int]:
    """The per-irrep quantities of a spherical target of several irreps:
    ``irrep_<λ>_<σ>`` → the index of its block (none for other targets)."""
    if info.kind != "spherical" or len(info.irreps) < 2:
        return {}
    return {f"irrep_{lam}_{sigma}": i for i, (lam, sigma) in enumerate(info.irreps)}


def _quantities(name: str, info: TargetInfo) -> Dict[str, Tuple[str, str]]:
    """Metric key → (target, quantity) of one target: its values, each gradient its
    data holds, and each irrep of a spherical target (quantity ``irrep:<block>``)."""
    quantities = {name: (name, "")}
    for quantity, gradient in _GRADIENT_QUANTITIES.items():
        if gradient in info.gradients:
            quantities[f"{name}.{quantity}"] = (name, quantity)
    for irrep, block in irrep_quantities(info).items():
        quantities[f"{name}.{irrep}"] = (name, f"irrep:{block}")
    return quantities


def run_metric_names(targets: Dict[str, TargetInfo]) -> List[str]:
    """Every ``best_model_metric`` of a run on ``targets``: the loss, the products,
    and the RMSE and MAE of every target, of every gradient its data holds and of
    every irrep of a spherical target."""
    names = ["loss", *PRODUCT_METRICS]
    for name, info in targets.items():
        for quantity in _quantities(name, info):
            names += [f"{quantity}.rmse", f"{quantity}.mae"]
    return names


def require_run_metric(metric: str, targets: Dict[str, TargetInfo]) -> None:
    """Refuse a ``best_model_metric`` the data of ``targets`` cannot give (a
    gradient the options allow but the files lack), with an :class:`OptionsError`."""
    problem = best_metric_problem(metric, run_metric_names(targets))
    if problem is not None:
        raise OptionsError([problem])


def selection_value(metric: str, values: Dict[str, float], prefix: str) -> float:
    """The value of the model-selection ``metric`` among an epoch's ``values``
    (keys ``<prefix>.<name>``): one metric or loss, or a product of PRODUCT_METRICS."""
    if metric in PRODUCT_METRICS:
        suffix = PRODUCT_METRICS[metric]
        chosen = [
            value
            for key, value in sorted(values.items())
            if key.startswith(f"{prefix}.") and key.endswith(suffix)
        ]
        return math.prod(chosen)
    return values[f"{prefix}.{metric}"]


def quantity_unit(info: TargetInfo, quantity: str, per_atom: bool, length: str) -> str:
    """The unit of a metric of ``quantity`` (``""`` for the values) of a target."""
    unit = info.unit
    if quantity == "" or quantity.startswith("irrep:"):
        return f"{unit}/atom" if per_atom and unit else unit
    if quantity == "forces":
        return f"{unit}/{length}" if unit else ""
    if quantity == "stress":
        return f"{unit}/{length}^3" if unit else ""
    return unit


class MetricAccumulator:
    """Sums of squared and absolute errors per target and gradient over an epoch."""

    def __init__(
        self,
        targets: Dict[str, TargetInfo],
        per_atom_normalised: List[str],
        length_unit: str,
    ) -> None:
        self.targets = targets
        self.per_atom_normalised = set(per_atom_normalised)
        self.length_unit = length_unit
        self.quantities: Dict[str, Tuple[str, str]] = {}
        for name, info in targets.items():
            self.quantities.update(_quantities(name, info))
        self.sums: Dict[str, List[float]] = {}
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated (start of an epoch)."""
        self.sums = {key: [0.0, 0.0, 0.0] for key in self.quantities}

    def units(self) -> Dict[str, str]:
        """Unit of every metric, keyed like :meth:`compute`."""
        units = {}
        for key, (target, quantity) in self.quantities.items():
            info = self.targets[target]
            per_atom = target in self.per_atom_normalised
            unit = quantity_unit(info, quantity, per_atom, self.length_unit)
            units[f"{key}.rmse"] = unit
            units[f"{key}.mae"] = unit
        return units

    @torch.no_grad()
    def update(
        self,
        predictions: Dict[str, TensorMap],
        labels: Dict[str, TensorMap],
        atoms_per_structure: torch.Tensor,
        volumes: torch.Tensor,
    ) -> None:
        """Add the errors of one batch. ``atoms_per_structure`` and ``volumes`` have
        one entry per structure of the batch."""
        for key, (target, quantity) in self.quantities.items():
            if target not in labels or target not in predictions:
                continue
            errors = self._errors(
                predictions[target],
                labels[target],
                target,
                quantity,
                atoms_per_structure,
                volumes,
            )
            if errors is None or errors.numel() == 0:
                continue
            sums = self.sums[key]
            sums[0] += float((errors**2).sum())
            sums[1] += float(errors.abs().sum())
            sums[2] += float(errors.numel())

    def _errors(
        self,
        prediction: TensorMap,
        label: TensorMap,
        target: str,
        quantity: str,
        atoms_per_structure: torch.Tensor,
        volumes: torch.Tensor,
    ) -> Optional[torch.Tensor]:
        collected = []
        blocks = range(len(label))
        if quantity.startswith("irrep:"):
            blocks = range(int(quantity[6:]), int(quantity[6:]) + 1)
            quantity = ""
        for index in blocks:
            p_block, y_block = prediction.block(index), label.block(index)
            if quantity != "":
                gradient = _GRADIENT_QUANTITIES[quantity]
                if gradient not in p_block.gradients_list():
                    return None
                p_block = p_block.gradient(gradient)
                y_block = y_block.gradient(gradient)
            error = (p_block.values.detach() - y_block.values).to(torch.float64)
            absent = torch.isnan(y_block.values)
            shape = [-1] + [1] * (error.dim() - 1)
            if quantity == "stress":
                periodic = volumes > 0
                error = error[periodic] / volumes[periodic].to(torch.float64).reshape(
                    shape
                )
                absent = absent[periodic]
            elif quantity == "" and target in self.per_atom_normalised:
                error = error / atoms_per_structure.to(torch.float64).reshape(shape)
            collected.append(error[~absent])
        return torch.cat(collected)

    def compute(self) -> Dict[str, float]:
        """``{"<key>.rmse": ..., "<key>.mae": ...}`` for every quantity seen."""
        result: Dict[str, float] = {}
        for key, (squares, absolutes, count) in self.sums.items():
            if count > 0:
                result[f"{key}.rmse"] = (squares / count) ** 0.5
                result[f"{key}.mae"] = absolutes / count
        return result

    def state_dict(self) -> Dict[str, List[float]]:
        return {key: list(values) for key, values in self.sums.items()}

    def load_state_dict(self, state: Dict[str, List[float]]) -> None:
        for key, values in state.items():
            if key in self.sums:
                self.sums[key] = [float(v) for v in values]
