"""Model predictions for a batch, with gradients computed by autograd.

The model is called with the ``forward(systems, outputs, selected_atoms)`` contract;
for targets that carry gradients, ``positions`` (dE/dr) and ``strain`` (dE/dε)
gradient blocks are attached in the layout of the labels: samples
``[sample, system, atom]`` and ``[sample]``, where ``sample`` is the row of the
structure in the values block. Forces and virials are minus these gradients; the
engine compares gradients with gradients, so no sign is flipped here.

:func:`batch_predictions` is the one walk from batches to predictions: the engine's
validation, ``atomtrain eval``, the final errors of a run and LLPR all go through it,
each with its own source of batches and its own use of the results.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Callable,
    Collection,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
)

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import ModelOutput

from ..data.batching import BatchBuilder
from ..data.dataset import Dataset
from ..data.info import TargetInfo
from ..data.sampling import BatchPlan, plan_epoch
from .progress import StructureProgress

if TYPE_CHECKING:
    from metatomic.torch import NeighborListOptions

    from ..data.batching import Batch


def model_outputs(targets: Dict[str, TargetInfo]) -> Dict[str, ModelOutput]:
    """What to ask the model for: every target with its quantity, unit and kind."""
    return {name: info.model_output() for name, info in targets.items()}


def predict(
    model: torch.nn.Module,
    batch: Batch,
    targets: Dict[str, TargetInfo],
    training: bool,
    extra_outputs: Optional[Dict[str, ModelOutput]] = None,
    unlabelled_gradients: Optional[Mapping[str, Sequence[str]]] = None,
) -> Dict[str, TensorMap]:
    """Predictions of ``model`` for ``batch``, with the gradients of ``targets`` whose
    labels in the batch carry them. ``training`` keeps the graph of the gradients
    (``create_graph``) so that a loss on forces can be back-propagated.

    ``extra_outputs`` (uncertainties, last-layer features) are asked for too and
    returned as the model gives them; ``unlabelled_gradients``: per target, the
    gradients to compute when the batch has no labels of it (default: none)."""
    outputs = model_outputs(targets)
    outputs.update(extra_outputs or {})
    predictions = model(batch.systems, outputs, None)
    result: Dict[str, TensorMap] = {}
    for name, tensor in predictions.items():
        if name not in outputs:
            continue
        gradients = _requested_gradients(batch, name, unlabelled_gradients or {})
        if name in targets and gradients:
            tensor = with_gradients(tensor, batch, gradients, training)
        result[name] = tensor
    return result


def _requested_gradients(
    batch: Batch, name: str, unlabelled: Mapping[str, Sequence[str]]
) -> List[str]:
    labels = batch.targets.get(name)
    if labels is None or len(labels) == 0:
        return list(unlabelled.get(name, ()))
    return list(labels.block(0).gradients_list())


class BatchPredictions(NamedTuple):
    """One batch and the model's predictions for it (target name → TensorMap)."""

    batch: Batch
    predictions: Dict[str, TensorMap]


Predictor = Callable[["Batch"], Dict[str, TensorMap]]


def batch_predictions(
    batches: Iterable[Batch], predictor: Predictor
) -> Iterator[BatchPredictions]:
    """Each of ``batches`` with its predictions by ``predictor`` (:func:`predict`
    with the model and targets bound, or a trainer's ``predict`` hook), one batch at
    a time: nothing of a batch is kept once the caller has used it."""
    for batch in batches:
        yield BatchPredictions(batch, predictor(batch))


def with_gradients(
    tensor: TensorMap, batch: Batch, gradients: List[str], training: bool
) -> TensorMap:
    """``tensor`` (a single-block per-structure scalar) with its ``gradients``
    (``positions`` and/or ``strain``) attached."""
    if len(tensor) != 1 or "atom" in tensor.block(0).samples.names:
        raise ValueError(
            "gradients are only supported for single-block per-structure targets"
        )
    block = tensor.block(0)
    values = block.values
    n_systems = len(batch.systems)
    rows = torch.empty(n_systems, dtype=torch.int32, device=values.device)
    rows[block.samples.column("system").to(torch.long)] = torch.arange(
        values.shape[0], dtype=torch.int32, device=values.device
    )
    inputs: List[torch.Tensor] = []
    if "positions" in gradients:
        inputs += list(batch.positions)
    if "strain" in gradients:
        inputs += list(batch.strains)
    per_property: List[List[torch.Tensor]] = []
    for p in range(values.shape[-1]):
        derivatives = torch.autograd.grad(
            values[:, p].sum(),
            inputs,
            create_graph=training,
            retain_graph=True,
            allow_unused=True,
            materialize_grads=True,
        )
        per_property.append(list(derivatives))
    new_block = TensorBlock(
        values=values,
        samples=block.samples,
        components=block.components,
        properties=block.properties,
    )
    offset = 0
    if "positions" in gradients:
        count = len(batch.positions)
        stacked = torch.stack(
            [torch.cat(d[offset : offset + count]) for d in per_property], dim=-1
        )
        offset += count
        new_block.add_gradient(
            "positions", _positions_block(stacked, batch, rows, block.properties)
        )
    if "strain" in gradients:
        stacked = torch.stack(
            [torch.stack(d[offset : offset + n_systems]) for d in per_property], dim=-1
        )
        new_block.add_gradient("strain", _strain_block(stacked, rows, block.properties))
    return TensorMap(tensor.keys, [new_block])


def _positions_block(
    values: torch.Tensor, batch: Batch, rows: torch.Tensor, properties: Labels
) -> TensorBlock:
    device = values.device
    counts = torch.tensor([len(s) for s in batch.systems], device=device)
    system = torch.repeat_interleave(
        torch.arange(len(counts), device=device, dtype=torch.int32), counts
    )
    starts = torch.cumsum(counts, 0) - counts
    atom = torch.arange(values.shape[0], device=device) - torch.repeat_interleave(
        starts, counts
    )
    samples = torch.stack([rows[system.long()], system, atom.to(torch.int32)], dim=1)
    return TensorBlock(
        values=values,
        samples=Labels(["sample", "system", "atom"], samples),
        components=[Labels.range("xyz", 3).to(device)],
        properties=properties,
    )


def _strain_block(
    values: torch.Tensor, rows: torch.Tensor, properties: Labels
) -> TensorBlock:
    device = values.device
    return TensorBlock(
        values=values,
        samples=Labels(["sample"], rows.reshape(-1, 1)),
        components=[
            Labels.range("xyz_1", 3).to(device),
            Labels.range("xyz_2", 3).to(device),
        ],
        properties=properties,
    )


def evaluation_batches(
    dataset: Dataset,
    neighbor_lists: Sequence[NeighborListOptions],
    targets: Dict[str, TargetInfo],
    dtype: torch.dtype,
    device: str | torch.device = "cpu",
    batch_size: int = 16,
    gradients: Collection[str] = (),
    description: str = "evaluation",
    extra_data: Optional[Dict[str, TargetInfo]] = None,
    inputs: Sequence[str] = (),
) -> Iterator[Batch]:
    """The batches of ``dataset`` in its order, with the neighbour lists and the
    labels of ``targets`` (and their ``gradients``): the one walk over a dataset of
    ``atomtrain eval``, the final errors of a run and LLPR; a progress bar named
    ``description`` on a terminal; ``inputs``: the per-structure inputs the model
    requests, from the ``extra_data`` entries of the same names (or defaults)."""
    builder = BatchBuilder(
        list(neighbor_lists),
        targets,
        {n: i for n, i in (extra_data or {}).items() if n in inputs},
        dtype=dtype,
        device=device,
        inputs=inputs,
    )
    plan = BatchPlan(batch_size=batch_size, shuffle=False)
    with StructureProgress(len(dataset), description) as progress:
        for indices in plan_epoch(
            plan, dataset.num_atoms(), 0, describe=dataset.describe
        ):
            yield builder(dataset, indices, gradients)
            progress.update(len(indices))
