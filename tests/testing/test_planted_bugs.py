"""Plant one bug at a time in a correct tiny architecture (``planted_models``) and
check that the suite's checks catch each one, and pass the correct architecture.

The bugs of the second group were all missed by the suite once (each changed
results): a cutoff whose forces jump, pair vectors without the cell shifts,
``selected_atoms`` ignored for the energy, the composition baseline left out of the
exported model, a tensor output that the export changes (only energies were
exported), and a trainer's ``predict`` handing the engine the forces with the wrong
sign.
"""

from pathlib import Path
from tempfile import mkdtemp
from typing import Any, Callable, Dict

import pytest
import torch
from planted_models import (
    MOMENT,
    TYPES,
    BaselineOffWhenExported,
    FlippedForces,
    FlippedPredictTrainer,
    HardCutoff,
    IgnoresSelection,
    IndexDependent,
    LeakyBatch,
    LinearCutoff,
    MeanInsteadOfSum,
    MomentFlippedWhenExported,
    MomentModel,
    NewFormatSameVersion,
    NoCellShifts,
    NotInvariant,
    NotScriptable,
    OnlyInvariantMoment,
    PairModel,
    PairTrainer,
    PowerIsFloat,
    WrongParityMoment,
)

from atomtrain.data.info import DatasetInfo
from atomtrain.testing import ConformanceError, Probe
from atomtrain.testing import physics_checks as checks
from atomtrain.testing.base import ENERGY, with_baseline_weights
from atomtrain.testing.checkpoints import CheckpointTests
from atomtrain.testing.output_checks import (
    check_equivariance,
    check_selected_all_atoms,
    check_selected_atoms_sum,
)
from atomtrain.testing.systems import cluster, crystal
from atomtrain.testing.torchscript import (
    check_exported_outputs,
    check_exported_predictions,
    export_and_save,
)
from atomtrain.testing.trainer_checks import check_trainer_predictions
from atomtrain.training.hypers import base_trainer_defaults
from atomtrain.utils.abc import ModelInterface

MOLECULE = cluster(TYPES, 5, seed=1, size=3.0)
PERIODIC = crystal(TYPES, 4, seed=2)
#: a cell smaller than the cutoff (3 Å): atoms are neighbours of their own images
SMALL_CELL = crystal(TYPES, 2, seed=11, size=2.4)
STRUCTURES = [MOLECULE, PERIODIC, cluster(TYPES, 3, seed=4)]


def model_of(model_class: type) -> Any:
    """A float64 model of the energy, its composition baseline non-zero as the
    suite builds them."""
    torch.manual_seed(0)
    info = DatasetInfo(
        length_unit="angstrom", atomic_types=TYPES, targets={"energy": ENERGY}
    )
    model = model_class({}, info).to(torch.float64).eval()
    with_baseline_weights(model)
    return model


def probe_of(model_class: type) -> Probe:
    return Probe(model_of(model_class), {"energy": ENERGY})


Check = Callable[[type, Path], None]


def forces(model_class: type, _: Path) -> None:
    checks.check_forces(probe_of(model_class), MOLECULE)


def batch(model_class: type, _: Path) -> None:
    checks.check_batch_independence(probe_of(model_class), MOLECULE, PERIODIC)


def rotations(model_class: type, _: Path) -> None:
    checks.check_rotation_invariance(probe_of(model_class), [MOLECULE, PERIODIC], 1e-9)


def permutations(model_class: type, _: Path) -> None:
    checks.check_permutation_invariance(probe_of(model_class), PERIODIC)


def extensivity(model_class: type, _: Path) -> None:
    checks.check_far_apart_copies(probe_of(model_class), MOLECULE)


def cutoff(model_class: type, _: Path) -> None:
    checks.check_cutoff_continuity(probe_of(model_class), TYPES, 3.0)


def supercells(model_class: type, _: Path) -> None:
    probe = probe_of(model_class)
    checks.check_supercell(probe, PERIODIC, (2, 1, 1))
    checks.check_supercell(probe, SMALL_CELL, (1, 2, 1))


def selections(model_class: type, _: Path) -> None:
    check_selected_atoms_sum(probe_of(model_class), STRUCTURES, "energy")


def moments(model_class: type, _: Path) -> None:
    probe = Probe(model_of(model_class), {"mtt::moment": MOMENT})
    check_equivariance(probe, STRUCTURES, "mtt::moment", MOMENT, 1e-8)


def export(model_class: type, tmp_path: Path) -> None:
    check_exported_predictions(model_of(model_class), STRUCTURES, tmp_path / "m.pt")


def exported_moments(model_class: type, tmp_path: Path) -> None:
    targets = {"energy": ENERGY, "mtt::moment": MOMENT}
    check_exported_outputs(
        model_of(model_class), targets, STRUCTURES, tmp_path / "m.pt"
    )


def trainer_with(trainer_class: type) -> Check:
    def check(model_class: type, _: Path) -> None:
        model = model_of(model_class)
        check_trainer_predictions(
            trainer_class(base_trainer_defaults()), model, STRUCTURES
        )

    return check


def test_the_correct_model_passes_every_check(tmp_path):
    probe = probe_of(PairModel)
    checks.check_forces_are_not_zero(probe, MOLECULE)
    checks.check_stress(probe, PERIODIC)
    checks.check_gradcheck(probe, cluster(TYPES, 3, seed=9, size=2.5))
    check_selected_all_atoms(probe, STRUCTURES, "energy")
    for check in (
        forces,
        batch,
        rotations,
        permutations,
        extensivity,
        cutoff,
        supercells,
        selections,
        export,
        trainer_with(PairTrainer),
    ):
        check(PairModel, tmp_path)
    moments(MomentModel, tmp_path)
    exported_moments(MomentModel, tmp_path)


CAUGHT: Dict[str, Any] = {
    "non-conservative forces": (FlippedForces, forces, "finite differences"),
    "batch leak": (LeakyBatch, batch, "non-zero gradient"),
    "not invariant": (NotInvariant, rotations, r"under a (rotation|reflection)"),
    "hard cutoff": (HardCutoff, cutoff, r"the energy of atoms of types \d+ and \d+"),
    "mean instead of sum": (MeanInsteadOfSum, extensivity, "two far-apart copies"),
    "index-dependent": (IndexDependent, permutations, "in another order"),
    "not scriptable": (NotScriptable, export, "TorchScript cannot compile"),
    "spherical output only invariant": (
        OnlyInvariantMoment,
        moments,
        r"block 0\) is off by .* from the rotated prediction",
    ),
    "wrong parity": (
        WrongParityMoment,
        moments,
        r"block 1\) is off by .* from the reflected prediction",
    ),
}

ONCE_MISSED: Dict[str, Any] = {
    "forces jump at the cutoff": (
        LinearCutoff,
        cutoff,
        r"the force between atoms of types \d+ and \d+ jumps by .* although the "
        "energy is continuous",
    ),
    "no cell shifts": (NoCellShifts, supercells, r"and its \dx\dx\d supercell"),
    "selected_atoms ignored": (
        IgnoresSelection,
        selections,
        "of the even-numbered atoms",
    ),
    "baseline off when exported": (
        BaselineOffWhenExported,
        export,
        "the exported model predicts the energies",
    ),
    "tensor output changed by the export": (
        MomentFlippedWhenExported,
        exported_moments,
        r"the exported model's output 'mtt::moment' \(block 1\) differs",
    ),
    "force sign flipped in predict": (
        PairModel,
        trainer_with(FlippedPredictTrainer),
        r"the trainer's predictions of dE/dpositions of structure 0",
    ),
}


@pytest.mark.parametrize("bug", [*CAUGHT, *ONCE_MISSED])
def test_each_planted_bug_is_caught(bug, tmp_path):
    model_class, check, message = {**CAUGHT, **ONCE_MISSED}[bug]
    with pytest.raises(ConformanceError, match=message) as error:
        check(model_class, tmp_path)
    assert "What to change:" in str(error.value)


@pytest.mark.parametrize(
    "bug, older_check",
    [
        ("selected_atoms ignored", check_selected_all_atoms),
        ("no cell shifts", lambda probe, *_: checks.check_stress(probe, PERIODIC)),
        (
            "tensor output changed by the export",
            lambda probe, *_: check_exported_predictions(
                probe.model, STRUCTURES, Path(mkdtemp()) / "m.pt"
            ),
        ),
    ],
)
def test_the_older_checks_did_not_see_them(bug, older_check):
    """Selecting every atom, stress against finite strains (the cell shifts are
    left out consistently), and the exported energies pass with these bugs: the new
    checks are needed."""
    model_class = ONCE_MISSED[bug][0]
    older_check(probe_of(model_class), STRUCTURES, "energy")


def test_the_extensivity_message_shows_the_difference():
    with pytest.raises(ConformanceError) as error:
        extensivity(MeanInsteadOfSum, Path())
    first_line = str(error.value).splitlines()[0]
    single = 2 * float(probe_of(MeanInsteadOfSum).energy([MOLECULE])[0])
    assert f"from twice the energy of one ({single!r})" in first_line
    assert "e-" in first_line.split(", ")[1]


def test_scripting_errors_are_reported_every_time(tmp_path):
    """A failed compilation does not turn the next one (in another test of the
    same run) into "Can't redefine method"."""
    for attempt in range(2):
        with pytest.raises(ConformanceError) as error:
            export_and_save(model_of(PowerIsFloat), tmp_path / f"{attempt}.pt")
        assert "Can't redefine method" not in str(error.value)
        assert "Expected a value of type 'int'" in str(error.value)
    export_and_save(model_of(PairModel), tmp_path / "fine.pt")


class PairCheckpoints(CheckpointTests):
    architecture = "pair"
    epoch_based = True


def _format_check(model_class: type, golden: Path, tmp_path: Path) -> None:
    def build(targets: Dict[str, Any]) -> ModelInterface[Any]:
        torch.manual_seed(0)
        info = DatasetInfo(length_unit="angstrom", atomic_types=TYPES, targets=targets)
        return model_class({}, info).to(torch.float64)

    training = {**base_trainer_defaults(), "num_epochs": 1, "batch_size": 4}
    hypers = {"model": {}, "training": training}
    PairCheckpoints().test_format_unchanged_without_version_bump(
        golden, "pair", "default", build, model_class, PairTrainer, hypers, tmp_path
    )


def test_a_format_change_without_a_version_bump_is_caught(tmp_path):
    golden = tmp_path / "golden"
    golden.mkdir()
    with pytest.raises(ConformanceError, match="no golden checkpoint") as error:
        _format_check(PairModel, golden, tmp_path / "first")
    written = tmp_path / "first" / "pair-model-v1-trainer-v1.ckpt"
    assert f"cp {written} {golden / written.name}" in str(error.value)
    written.rename(golden / written.name)

    _format_check(PairModel, golden, tmp_path / "unchanged")
    with pytest.raises(
        ConformanceError, match="model checkpoint format changed"
    ) as error:
        _format_check(NewFormatSameVersion, golden, tmp_path / "changed")
    message = str(error.value)
    assert "'cutoff'" in message
    rewritten = tmp_path / "changed" / written.name
    assert (
        "What to change: if version 1 of the model was never released (no user can "
        "have a checkpoint of it, as the scaffold's version 1 while the architecture "
        f"is written), regenerate its golden file: cp {rewritten} "
        f"{golden / written.name}. If it was released, keep that file: bump the "
        "model's __checkpoint_version__ to 2, add the one-step upgrade from 1 to "
        "upgrade_checkpoint (renamed or changed tensors in every copy of the "
        "weights: atomtrain.checkpoints.rename_parameters"
    ) in message
