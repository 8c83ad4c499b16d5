"""Predictions with autograd gradients, checked against finite differences, the
dummy model's export through TorchScript, and the one prediction iterator shared by
validation, ``atomtrain eval`` and LLPR."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List

import pytest
import torch

from atomtrain.data.batching import BatchBuilder
from atomtrain.llpr.trainer import collect
from atomtrain.testing.dummy import DummyModel, DummyTrainer
from atomtrain.training.hypers import base_trainer_defaults
from atomtrain.training.predict import BatchPredictions, batch_predictions, predict
from atomtrain.workflows.evaluate import evaluate

HYPERS = {"cutoff": 4.0, "num_radial": 6, "hidden": 8, "zbl": False}


def build(model, dataset, indices):
    builder = BatchBuilder(
        model.requested_neighbor_lists(), dict(dataset.info.targets), {}, torch.float64
    )
    return builder(dataset, indices, ["positions"])


def test_forces_match_finite_differences(ethanol):
    torch.manual_seed(0)
    model = DummyModel(dict(HYPERS), ethanol.info).to(torch.float64)
    batch = build(model, ethanol, [0, 1])
    gradient = predict(model, batch, ethanol.info.targets, training=False)
    block = gradient["energy"].block().gradient("positions")
    assert block.samples.names == ["sample", "system", "atom"]
    assert block.values.shape == (18, 3, 1)
    structure = ethanol[1]
    step = 1e-5
    for atom, axis in [(0, 0), (4, 2), (8, 1)]:
        energies = []
        for sign in (1.0, -1.0):
            structure.positions[atom, axis] += sign * step
            shifted = build(model, ethanol, [1])
            energies.append(
                model(
                    shifted.systems,
                    {"energy": ethanol.info.targets["energy"].model_output()},
                )["energy"]
                .block()
                .values.item()
            )
            structure.positions[atom, axis] -= sign * step
        numeric = (energies[0] - energies[1]) / (2 * step)
        assert block.values[9 + atom, axis, 0].item() == pytest.approx(
            numeric, rel=1e-6, abs=1e-8
        )


def test_no_gradient_across_structures(ethanol):
    torch.manual_seed(0)
    model = DummyModel(dict(HYPERS), ethanol.info).to(torch.float64)
    alone = predict(model, build(model, ethanol, [5]), ethanol.info.targets, False)
    together = predict(
        model, build(model, ethanol, [4, 5]), ethanol.info.targets, False
    )
    forces_alone = alone["energy"].block().gradient("positions").values
    forces_together = together["energy"].block().gradient("positions").values[9:]
    assert torch.allclose(forces_alone, forces_together, atol=1e-12)


def test_dummy_model_exports_and_scripts(ethanol, tmp_path):
    model = DummyModel(dict(HYPERS), ethanol.info).to(torch.float32)
    exported = model.export()
    exported.save(str(tmp_path / "model.pt"))
    assert (tmp_path / "model.pt").stat().st_size > 0
    assert exported.capabilities().dtype == "float32"
    assert exported.capabilities().interaction_range == 4.0


# ---- one prediction iterator for validation, eval, final errors and LLPR -----------

CONSUMERS = ["atomtrain.training.step", "atomtrain.workflows.evaluate"]
CONSUMERS += ["atomtrain.llpr.trainer"]


def _spy_on_batch_predictions(monkeypatch) -> Dict[str, List[BatchPredictions]]:
    """Record, per module, every result its ``batch_predictions`` yields."""
    seen: Dict[str, List[BatchPredictions]] = {name: [] for name in CONSUMERS}

    def spy_for(module: str) -> Callable[..., Iterator[BatchPredictions]]:
        def spy(batches, predictor) -> Iterator[BatchPredictions]:
            for result in batch_predictions(batches, predictor):
                seen[module].append(result)
                yield result

        return spy

    for module in CONSUMERS:
        monkeypatch.setattr(f"{module}.batch_predictions", spy_for(module))
    return seen


def _errors(result: BatchPredictions) -> Dict[str, torch.Tensor]:
    """Prediction minus label of the energy and of its positions gradient."""
    predicted = result.predictions["energy"].block()
    labels = result.batch.targets["energy"].block()
    errors = {"energy": (predicted.values - labels.values).detach().flatten()}
    if "positions" in labels.gradients_list():
        gradient = predicted.gradient("positions").values.detach()
        errors["forces"] = (gradient - labels.gradient("positions").values).flatten()
    return errors


def test_validation_eval_and_llpr_share_one_prediction_iterator(
    ethanol, tmp_path, monkeypatch
):
    seen = _spy_on_batch_predictions(monkeypatch)
    hypers: Dict[str, Any] = base_trainer_defaults()
    hypers.update(num_epochs=1, batch_size=8, learning_rate=1e-2, warmup_fraction=0.0)
    torch.manual_seed(0)
    model = DummyModel(dict(HYPERS), ethanol.info)  # type: ignore[arg-type]
    validation = ethanol.subset(range(20, 25))
    DummyTrainer(hypers).train(
        model,
        torch.float64,
        [torch.device("cpu")],
        [ethanol.subset(range(20))],
        [validation],
        tmp_path,
    )
    # one epoch: the last batch through the engine is the validation set, predicted
    # with the weights the model ends with (the baseline taken off both sides)
    validated = seen["atomtrain.training.step"][-1]
    assert validated.batch.indices.tolist() == list(range(5))
    evaluate(model.export(), validation, batch_size=8)
    assert len(seen["atomtrain.workflows.evaluate"]) == 1
    evaluated = seen["atomtrain.workflows.evaluate"][0]
    features, llpr_errors = collect(model, [validation], "energy", torch.float64, 8)
    assert features.shape[0] == 5
    assert len(seen["atomtrain.llpr.trainer"]) == 1

    expected = _errors(evaluated)
    assert set(expected) == {"energy", "forces"}
    for name, errors in _errors(validated).items():
        torch.testing.assert_close(errors, expected[name], rtol=0, atol=1e-10)
    torch.testing.assert_close(llpr_errors, expected["energy"], rtol=0, atol=1e-10)
