"""The loss: metatrain's ``loss`` grammar, resolved into one term per target and
gradient, and evaluated on predictions and labels given as TensorMaps.

Grammar (``architecture.training.loss``)::

    loss: mse                       # one type for every target and gradient
    loss:
      energy:
        type: huber                 # mse, mae, huber, masked_mse, ...
        weight: 1.0
        reduction: mean             # mean | sum over the elements of a batch
        delta: 0.1                  # huber threshold, in the target's units
        forces: {type: mse, weight: 10.0}
        stress: {weight: 1.0}       # or virial: both are the strain gradient
        # or, as metatrain writes them (an entry for a gradient without labels
        # has no effect there):
        # gradients: {positions: {weight: 10.0}, strain: {weight: 1.0}}

A target absent from a per-target loss gets ``mse`` with weight 1; a gradient absent
from a target's entry inherits the target's type and reduction with weight 1.
``masked_*`` types read a boolean TensorMap ``<target>_mask`` (same layout as the
target) from the batch's ``extra_data``; NaN labels (for example structures without a
stress label) are always left out. Per-structure targets (and their strain gradient)
are divided by the number of atoms of each structure unless they are listed in
``per_structure_targets``. With ``scale_targets``, errors of a target and of its
gradients are divided by that target's scale before the pointwise loss; the blocks of
a spherical target of several irreps each by their own scale (keys
``<target>.irrep_<λ>_<σ>``, the names of their metrics), so that an irrep of small
values (the anisotropic λ = 2 part of a polarizability beside its λ = 0 trace, say)
weighs as much as the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, get_args

import torch
from metatensor.torch import TensorBlock, TensorMap

from ..data.info import TargetInfo
from ..data.targets import GRADIENT_OF, sections_of
from ..errors import OptionsError, Problem, did_you_mean
from .hypers import GradientLossHypers, LossType, TargetLossHypers, declared_defaults

LOSS_TYPES = get_args(LossType)
#: The keys of one term (a target's or a gradient's), and the defaults declared for
#: them: a gradient's own, then the target's for the type and reduction it inherits.
_TERM_KEYS = tuple(GradientLossHypers.__annotations__)
TARGET_DEFAULTS = {
    key: value
    for key, value in declared_defaults(TargetLossHypers).items()
    if key in _TERM_KEYS
}
GRADIENT_DEFAULTS = declared_defaults(GradientLossHypers)


@dataclass(frozen=True)
class LossTerm:
    """One term of the total loss: a target's values (``gradient`` None) or one of its
    gradients (``positions`` or ``strain``)."""

    target: str
    gradient: Optional[str]
    name: str
    type: str
    weight: float
    reduction: str
    delta: float

    @property
    def masked(self) -> bool:
        return self.type.startswith("masked_")


def resolve_loss(
    loss: Any,
    targets: Dict[str, TargetInfo],
    path: str = "architecture.training.loss",
) -> List[LossTerm]:
    """The loss terms for ``targets``; every problem of ``loss`` is reported at once
    in an :class:`OptionsError` with dotted key paths."""
    problems: List[Problem] = []
    if isinstance(loss, str):
        loss = {name: {"type": loss} for name in targets}
    if not isinstance(loss, Mapping):
        raise OptionsError([Problem(path, "expected a loss type or a mapping", loss)])
    for name in loss:
        if name not in targets:
            hint = did_you_mean(str(name), targets)
            problems.append(Problem(f"{path}.{name}", f"no target of that name{hint}"))
    terms: List[LossTerm] = []
    for name, info in targets.items():
        entry = loss.get(name, {})
        if isinstance(entry, str):
            entry = {"type": entry}
        terms.extend(_target_terms(name, info, entry, f"{path}.{name}", problems))
    if problems:
        raise OptionsError(problems)
    return terms


def _target_terms(
    name: str, info: TargetInfo, entry: Any, path: str, problems: List[Problem]
) -> List[LossTerm]:
    if not isinstance(entry, Mapping):
        problems.append(Problem(path, "expected a loss type or a mapping", entry))
        return []
    entry, form = _gradients_form(entry, path, problems)
    allowed = (*_TERM_KEYS, *GRADIENT_OF)
    for key in entry:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed)
            problems.append(Problem(f"{path}.{key}", f"unknown key{hint}"))
    base = _term(name, None, name, entry, {}, path, problems)
    terms = [base]
    given = [key for key in GRADIENT_OF if key in entry]
    if "stress" in given and "virial" in given:
        problems.append(
            Problem(
                path, "give either 'stress' or 'virial': both are the strain gradient"
            )
        )
    for key, gradient in GRADIENT_OF.items():
        if key in entry and gradient not in info.gradients:
            problems.append(
                Problem(f"{path}.{key}", f"target '{name}' has no {key} labels")
            )
    for gradient in info.gradients:
        keys = sections_of(gradient)
        key = next((k for k in keys if k in entry), keys[0])
        inherited = {
            "type": base.type.removeprefix("masked_"),
            "reduction": base.reduction,
        }
        sub = entry.get(key, form.get(gradient, {}))
        if isinstance(sub, str):
            sub = {"type": sub}
        term = _term(
            name, gradient, f"{name}.{key}", sub, inherited, f"{path}.{key}", problems
        )
        if term.masked:
            problems.append(
                Problem(
                    f"{path}.{key}.type",
                    "masked losses apply to a target's values only",
                )
            )
        terms.append(term)
    return terms


def _gradients_form(
    entry: Mapping[str, Any], path: str, problems: List[Problem]
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``entry`` without metatrain's ``gradients: {positions: …, strain: …}``
    form, and that form's entry of each gradient. Unlike the sections ``forces``
    and ``stress``, it may name a gradient the target has no labels for (metatrain
    writes both in its expanded options): such an entry has no effect."""
    entry = dict(entry)
    given = entry.pop("gradients", {})
    if not isinstance(given, Mapping):
        problems.append(Problem(f"{path}.gradients", "expected a mapping", given))
        return entry, {}
    form: Dict[str, Any] = {}
    for gradient, sub in given.items():
        sections = sections_of(str(gradient))
        where = f"{path}.gradients.{gradient}"
        if not sections:
            hint = did_you_mean(str(gradient), ("positions", "strain"))
            problems.append(Problem(where, f"unknown gradient{hint}"))
        elif any(section in entry for section in sections):
            listed = " or ".join(f"'{section}'" for section in sections)
            problems.append(Problem(where, f"given twice: here and as {listed}"))
        else:
            form[str(gradient)] = sub
    return entry, form


def _term(
    target: str,
    gradient: Optional[str],
    name: str,
    entry: Any,
    inherited: Dict[str, Any],
    path: str,
    problems: List[Problem],
) -> LossTerm:
    if not isinstance(entry, Mapping):
        problems.append(Problem(path, "expected a mapping", entry))
        return LossTerm(target, gradient, name, **TARGET_DEFAULTS)
    if gradient is not None:
        for key in entry:
            if key not in _TERM_KEYS:
                hint = did_you_mean(str(key), _TERM_KEYS)
                problems.append(Problem(f"{path}.{key}", f"unknown key{hint}"))
    values: Dict[str, Any] = dict(TARGET_DEFAULTS)
    if gradient is not None:
        values.update(GRADIENT_DEFAULTS)
    values.update(inherited)
    values.update({k: v for k, v in entry.items() if k in _TERM_KEYS})
    if values["type"] not in LOSS_TYPES:
        hint = did_you_mean(str(values["type"]), LOSS_TYPES)
        problems.append(
            Problem(f"{path}.type", f"unknown loss type{hint}", values["type"])
        )
    if values["reduction"] not in ("mean", "sum"):
        problems.append(
            Problem(
                f"{path}.reduction", "expected 'mean' or 'sum'", values["reduction"]
            )
        )
    for key in ("weight", "delta"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(Problem(f"{path}.{key}", "expected a number ≥ 0", value))
            values[key] = 1.0
    return LossTerm(
        target,
        gradient,
        name,
        str(values["type"]),
        float(values["weight"]),
        str(values["reduction"]),
        float(values["delta"]),
    )


def pointwise_loss(kind: str, error: torch.Tensor, delta: float) -> torch.Tensor:
    """Elementwise loss of ``error`` (prediction minus label) for a loss ``kind``."""
    kind = kind.removeprefix("masked_")
    if kind == "mse":
        return error**2
    if kind == "mae":
        return error.abs()
    absolute = error.abs()
    return torch.where(
        absolute < delta, 0.5 * error**2, delta * (absolute - 0.5 * delta)
    )


def term_values(
    term: LossTerm,
    predictions: Dict[str, TensorMap],
    labels: Dict[str, TensorMap],
    extra_data: Dict[str, TensorMap],
    atoms_per_structure: Optional[torch.Tensor],
    block_scales: Optional[List[float]] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Flattened ``(prediction, label)`` values of one term with invalid entries (NaN
    labels, masked-out entries) removed. ``atoms_per_structure`` ([n_systems]) divides
    per-structure values and strain gradients, or is None; ``block_scales`` divide
    the values of each block."""
    predicted: List[torch.Tensor] = []
    expected: List[torch.Tensor] = []
    mask_map = extra_data.get(f"{term.target}_mask") if term.masked else None
    if term.masked and mask_map is None:
        raise KeyError(
            f"the '{term.type}' loss of '{term.target}' needs a boolean mask "
            f"'{term.target}_mask' in extra_data"
        )
    for index in range(len(labels[term.target])):
        label = _select(labels[term.target].block(index), term.gradient)
        prediction = _select(predictions[term.target].block(index), term.gradient)
        if prediction.values.shape != label.values.shape:
            raise ValueError(
                f"prediction of '{term.name}' has shape "
                f"{tuple(prediction.values.shape)}, labels have "
                f"{tuple(label.values.shape)}"
            )
        p, y = prediction.values, label.values
        if atoms_per_structure is not None and term.gradient != "positions":
            norm = atoms_per_structure.to(p.dtype).reshape([-1] + [1] * (p.dim() - 1))
            p, y = p / norm, y / norm
        if block_scales is not None:
            p, y = p / block_scales[index], y / block_scales[index]
        valid = ~torch.isnan(y)
        if mask_map is not None:
            valid = valid & mask_map.block(index).values.to(torch.bool)
        predicted.append(p[valid])
        expected.append(y[valid])
    return torch.cat(predicted), torch.cat(expected)


def _select(block: TensorBlock, gradient: Optional[str]) -> TensorBlock:
    return block if gradient is None else block.gradient(gradient)


class LossFunction:
    """The weighted sum of the loss terms, with per-target scales."""

    def __init__(
        self,
        terms: List[LossTerm],
        per_atom_normalised: List[str],
        scales: Optional[Dict[str, float]] = None,
    ) -> None:
        self.terms = terms
        self.per_atom_normalised = set(per_atom_normalised)
        self.scales = dict(scales or {})

    def __call__(
        self,
        predictions: Dict[str, TensorMap],
        labels: Dict[str, TensorMap],
        extra_data: Dict[str, TensorMap],
        atoms_per_structure: torch.Tensor,
        denominators: Optional[Dict[str, int]] = None,
    ) -> Tuple[torch.Tensor, Dict[str, Tuple[float, int]]]:
        """The total loss of a batch, and per term the sum of pointwise losses and
        the number of elements (for exact epoch means).

        ``denominators`` replace the batch's own element counts of the ``mean``
        terms: with the counts of a larger batch that this one is part of (another
        process's share, a half after an out-of-memory split), the losses of the
        parts add up to the loss of the whole, and so do their gradients."""
        total = torch.zeros((), dtype=atoms_per_structure.dtype)
        parts: Dict[str, Tuple[float, int]] = {}
        first = True
        for term in self.terms:
            if term.target not in labels:
                continue
            norm = (
                atoms_per_structure if term.target in self.per_atom_normalised else None
            )
            block_scales = self.block_scales(term, labels[term.target])
            prediction, label = term_values(
                term, predictions, labels, extra_data, norm, block_scales
            )
            scale = 1.0 if block_scales else self.scales.get(term.target, 1.0)
            values = pointwise_loss(
                term.type, (prediction - label) / scale, term.delta / scale
            )
            summed = values.sum()
            count = int(values.numel())
            if denominators is not None:
                count_for_mean = denominators.get(term.name, count)
            else:
                count_for_mean = count
            reduced = (
                summed if term.reduction == "sum" else summed / max(count_for_mean, 1)
            )
            if first:
                total = torch.zeros((), dtype=reduced.dtype, device=reduced.device)
                first = False
            total = total + term.weight * reduced
            parts[term.name] = (float(summed.detach()), count)
        return total, parts

    def block_scales(self, term: LossTerm, labels: TensorMap) -> Optional[List[float]]:
        """The scale of each block of a spherical target's values, when the scales
        have one per irrep (see the module docstring); None otherwise."""
        if term.gradient is not None or "o3_lambda" not in labels.keys.names:
            return None
        names = [
            f"{term.target}.irrep_{int(lam)}_{int(sigma)}"
            for lam, sigma in zip(
                labels.keys.column("o3_lambda"), labels.keys.column("o3_sigma")
            )
        ]
        if not all(name in self.scales for name in names):
            return None
        return [self.scales[name] for name in names]

    def counts(
        self, labels: Dict[str, TensorMap], extra_data: Dict[str, TensorMap]
    ) -> Dict[str, int]:
        """The number of elements of every term in a batch, from its labels alone
        (NaN labels and masked-out entries left out), as :meth:`__call__` counts
        them."""
        counts: Dict[str, int] = {}
        for term in self.terms:
            if term.target not in labels:
                continue
            mask_map = extra_data.get(f"{term.target}_mask") if term.masked else None
            count = 0
            for index in range(len(labels[term.target])):
                label = _select(labels[term.target].block(index), term.gradient)
                valid = ~torch.isnan(label.values)
                if mask_map is not None:
                    valid = valid & mask_map.block(index).values.to(torch.bool)
                count += int(valid.sum())
            counts[term.name] = count
        return counts
