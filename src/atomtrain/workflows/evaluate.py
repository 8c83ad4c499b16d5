"""``atomtrain eval``: predictions and errors of any metatomic model on datasets.

The model may come from atomtrain or from any other tool: it is driven only through
the metatomic ``AtomisticModel`` interface, with the neighbour lists it requests.
Predictions are asked in the units of the labels (metatomic converts), forces and
virials come from autograd through the positions and the strain. A NaN or infinite
prediction is an error naming the target and the structures: errors computed without
them would describe another dataset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, Optional

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelEvaluationOptions,
    ModelOutput,
    System,
)

from ..data.batching import Batch
from ..data.dataset import Dataset
from ..data.elements import unseen_elements_error
from ..data.info import TargetInfo
from ..data.system_inputs import check_inputs, requested_inputs
from ..data.validity import MAX_LISTED
from ..errors import UserError
from ..training.metrics import MetricAccumulator
from ..training.predict import (
    BatchPredictions,
    batch_predictions,
    evaluation_batches,
    predict,
)
from ..training.uncertainty import Coverage, UncertaintyCalibration, calibration_lines
from ..utils.dtype import str_to_dtype


class _Evaluated(torch.nn.Module):
    """Calls an :class:`AtomisticModel` with evaluation options in given units."""

    def __init__(self, model: AtomisticModel, length_unit: str) -> None:
        super().__init__()
        self.model = model
        self.length_unit = length_unit

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        options = ModelEvaluationOptions(
            length_unit=self.length_unit, outputs=outputs, selected_atoms=selected_atoms
        )
        return self.model(systems, options, check_consistency=False)


@dataclass
class Evaluation:
    """Errors and predictions of a model on one dataset."""

    metrics: Dict[str, float]
    units: Dict[str, str]
    predictions: List[Dict[str, TensorMap]] = field(default_factory=list)
    batches: List[Batch] = field(default_factory=list)
    seconds: float = 0.0
    num_atoms: int = 0
    #: fractions of errors within ±1 and ±2 sigma of the model's uncertainties
    calibration: Dict[str, Coverage] = field(default_factory=dict)
    #: the targets predicted, with their units
    targets: Dict[str, TargetInfo] = field(default_factory=dict)
    #: the unit of lengths (positions, cells) of the evaluated structures
    length_unit: str = ""


def evaluation_targets(
    model: AtomisticModel, dataset: Dataset
) -> Dict[str, TargetInfo]:
    """The targets to predict: every target of the dataset (an error if the model
    lacks one), or the model's energy when the dataset has no labels."""
    outputs = model.capabilities().outputs
    if dataset.info.targets:
        missing = [name for name in dataset.info.targets if name not in outputs]
        if missing:
            raise UserError(
                f"the model has no output {', '.join(repr(m) for m in missing)}; it "
                f"computes {', '.join(repr(o) for o in outputs)}"
            )
        return dict(dataset.info.targets)
    if "energy" not in outputs:
        raise UserError(
            "the dataset declares no target and the model has no 'energy' output: "
            "declare the targets to evaluate in the options file"
        )
    unit = outputs["energy"].unit
    return {"energy": TargetInfo("energy", unit, gradients=("positions", "strain"))}


def _volumes(batch: Batch) -> torch.Tensor:
    volumes = []
    for system in batch.systems:
        periodic = bool(system.pbc.all())
        volumes.append(
            abs(float(torch.linalg.det(system.cell.detach()))) if periodic else 0.0
        )
    return torch.tensor(volumes, dtype=torch.float64)


#: Structures per batch of an evaluation, unless told otherwise.
DEFAULT_BATCH_SIZE = 16


def evaluate(
    model: AtomisticModel,
    dataset: Dataset,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "cpu",
    keep_predictions: bool = True,
) -> Evaluation:
    """Predict every target of ``dataset`` with ``model`` and accumulate RMSE/MAE
    (per atom for energies). Gradients (forces, virial) are evaluated when the labels
    carry them, or always for an unlabelled energy."""
    capabilities = model.capabilities()
    model = model.to(device=device)
    targets = evaluation_targets(model, dataset)
    unseen = unseen_elements_error(
        dataset,
        capabilities.atomic_types,
        "the model's atomic types",
        "the model cannot predict for these structures; evaluate it on structures "
        "of its elements, or train a model whose training set holds this element",
    )
    if unseen is not None:
        raise unseen
    labelled = {
        name: info for name, info in targets.items() if name in dataset.info.targets
    }
    energy_like = [name for name, info in targets.items() if info.is_energy]
    metrics = MetricAccumulator(labelled, energy_like, dataset.info.length_unit)
    uncertainty = UncertaintyCalibration(capabilities.outputs, labelled)
    result = Evaluation(
        metrics={},
        units=metrics.units(),
        targets=targets,
        length_unit=dataset.info.length_unit,
    )
    nonfinite: Dict[str, List[int]] = {}
    start = time.perf_counter()
    predicted = _batch_predictions(
        model, dataset, targets, uncertainty, batch_size, device
    )
    for batch, predictions in predicted:
        uncertainty.update(predictions, batch.targets)
        detached = {n: predictions[n].to(dtype=torch.float64) for n in targets}
        for name, tensor in detached.items():
            bad = nonfinite_systems(tensor)
            nonfinite.setdefault(name, []).extend(batch.indices[bad].tolist())
        atoms = torch.tensor([len(s) for s in batch.systems])
        metrics.update(detached, batch.targets, atoms, _volumes(batch))
        result.num_atoms += int(atoms.sum())
        if keep_predictions:
            result.predictions.append(detached)
            result.batches.append(_without_graph(batch))
    result.seconds = time.perf_counter() - start
    _refuse_nonfinite(nonfinite, dataset)
    result.metrics = metrics.compute()
    result.calibration = uncertainty.coverages()
    return result


def _batch_predictions(
    model: AtomisticModel,
    dataset: Dataset,
    targets: Dict[str, TargetInfo],
    uncertainty: UncertaintyCalibration,
    batch_size: int,
    device: str,
) -> Iterator[BatchPredictions]:
    """The batches of ``dataset`` with the model's predictions of ``targets``, with
    the gradients their labels carry (or that an unlabelled energy has), and the
    uncertainties ``uncertainty`` asks for."""
    labelled = {
        name: info for name, info in dataset.info.targets.items() if name in targets
    }
    inputs = requested_inputs(model)
    check_inputs(inputs, dataset.info.extra_data)
    batches = evaluation_batches(
        dataset,
        model.requested_neighbor_lists(),
        labelled,
        str_to_dtype(model.capabilities().dtype),
        device,
        batch_size,
        sorted({g for info in targets.values() for g in info.gradients}),
        extra_data=dataset.info.extra_data,
        inputs=sorted(inputs),
    )
    wrapped = _Evaluated(model, dataset.info.length_unit)

    def predictor(batch: Batch) -> Dict[str, TensorMap]:
        return predict(
            wrapped,
            batch,
            targets,
            training=False,
            extra_outputs=uncertainty.outputs(),
            unlabelled_gradients={n: i.gradients for n, i in targets.items()},
        )

    return batch_predictions(batches, predictor)


def nonfinite_systems(tensor: TensorMap) -> torch.Tensor:
    """Indices (in their batch) of the systems with a NaN or infinite value, or
    gradient, in the predictions ``tensor``."""
    found = []
    for block in tensor.blocks():
        systems = block.samples.column("system")
        found.append(systems[~torch.isfinite(block.values).flatten(1).all(dim=1)])
        for _, gradient in block.gradients():
            rows = ~torch.isfinite(gradient.values).flatten(1).all(dim=1)
            found.append(systems[gradient.samples.column("sample")[rows]])
    if not found:
        return torch.zeros(0, dtype=torch.long)
    return torch.unique(torch.cat(found)).to(device="cpu", dtype=torch.long)


def _refuse_nonfinite(nonfinite: Dict[str, List[int]], dataset: Dataset) -> None:
    """A :class:`UserError` naming the targets and the structures (``nonfinite``:
    dataset indices per target) of NaN or infinite predictions, if any."""
    parts = []
    for name, indices in nonfinite.items():
        if not indices:
            continue
        listed = [dataset.describe(i) for i in sorted(indices)[:MAX_LISTED]]
        more = len(indices) - len(listed)
        parts.append(
            f"'{name}' for {len(indices)} of {len(dataset)} structures: "
            + "; ".join(listed)
            + (f"; and {more} more" if more > 0 else "")
        )
    if parts:
        raise UserError(
            "the model predicts NaN or infinite values of "
            + "; of ".join(parts)
            + ". Its errors cannot be computed on these structures: the model is "
            "broken (NaN weights?) or they lie far outside what it was trained on"
        )


def _without_graph(batch: Batch) -> Batch:
    """The batch's systems detached from autograd, to keep for writing."""
    systems = [
        System(
            types=s.types,
            positions=s.positions.detach(),
            cell=s.cell.detach(),
            pbc=s.pbc,
        )
        for s in batch.systems
    ]
    return replace(batch, systems=systems, positions=[], strains=[])


def format_metrics(name: str, evaluation: Evaluation) -> str:
    """Aligned lines ``name: target.rmse = value unit``, the calibration of the
    model's uncertainties, and the timing."""
    lines = [f"{name}:"]
    width = max((len(k) for k in evaluation.metrics), default=0)
    for key, value in evaluation.metrics.items():
        unit = evaluation.units.get(key, "")
        lines.append(f"  {key:<{width}} = {value:.6g} {unit}".rstrip())
    lines.extend(f"  {line}" for line in calibration_lines(evaluation.calibration))
    if evaluation.num_atoms:
        per_atom = evaluation.seconds / evaluation.num_atoms * 1e6
        lines.append(
            f"  evaluated {evaluation.num_atoms} atoms in {evaluation.seconds:.3g} s "
            f"({per_atom:.3g} µs/atom)"
        )
    return "\n".join(lines)
