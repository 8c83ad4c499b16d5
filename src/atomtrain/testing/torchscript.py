"""Suite: TorchScript export (script, save, load, dtypes, devices, ASE)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import torch
from metatomic.torch import AtomisticModel, ModelEvaluationOptions, load_atomistic_model

from ..data.info import TargetInfo
from ..data.structure import Structure
from ..utils.abc import ModelInterface
from .base import ENERGY, ArchitectureFixtures, ModelFactory
from .probe import Probe, fail
from .systems import exported_systems


def forget_failed_compilation() -> None:
    """Drop what TorchScript keeps of classes it failed to compile.

    A failed ``torch.jit.script`` leaves the class half-defined in TorchScript's
    process-wide registry, and every later attempt in the same process fails with
    "Can't redefine method: forward on class ..." instead of the real error; a suite
    run that scripts a model in several tests would show the real one only in the
    first. This is what PyTorch's own tests do between tests."""
    torch._C._jit_clear_class_registry()
    torch.jit._recursive.concrete_type_store = torch.jit._recursive.ConcreteTypeStore()
    torch.jit._state._clear_class_state()


def export_and_save(model: ModelInterface[Any], path: Path) -> AtomisticModel:
    """``model.export()`` compiled with TorchScript, saved to ``path`` and loaded back
    with metatomic; a :class:`ConformanceError` explains a compilation failure."""
    exported = model.export()
    try:
        exported.save(str(path))
    except (RuntimeError, torch.jit.frontend.NotSupportedError) as error:
        forget_failed_compilation()
        cause = error.__cause__ or error
        raise fail(
            f"TorchScript cannot compile the model:\n{str(cause)[:1500]}",
            "make forward (and everything it calls) TorchScript-compatible: type "
            "annotations on every argument, no Python-only constructs (**kwargs, "
            "comprehensions over modules, dynamic attributes); list attributes that "
            "TorchScript must skip in __jit_ignored_attributes__",
        ) from error
    return load_atomistic_model(str(path))


def check_exported_predictions(
    model: ModelInterface[Any], structures: List[Structure], path: Path
) -> AtomisticModel:
    """The model exported, saved to ``path`` and loaded back predicts the energies
    of ``structures`` the eager model predicted before the export (float64); the
    loaded model."""
    expected = Probe(model, {"energy": ENERGY}).energy(structures)
    loaded = export_and_save(model, path)
    if "energy" not in loaded.capabilities().outputs:
        raise fail(
            "the exported capabilities do not list the output 'energy'",
            "export ModelCapabilities(outputs=self.supported_outputs())",
        )
    got = run_exported(loaded, structures, torch.float64)
    if not torch.allclose(got, expected, rtol=1e-10, atol=1e-12):
        raise fail(
            f"the exported model predicts the energies {got.tolist()}, the model "
            f"before the export {expected.tolist()}",
            "export the model as it is: export() must not switch anything off (the "
            "composition baseline, a term added in forward), and forward must "
            "compute the same under TorchScript (torch.jit.is_scripting()) as in "
            "Python",
        )
    return loaded


def check_exported_outputs(
    model: ModelInterface[Any],
    targets: Dict[str, TargetInfo],
    structures: List[Structure],
    path: Path,
) -> None:
    """The model exported, saved to ``path`` and loaded back predicts every target
    of ``targets`` (vectors, tensors, per-atom values: the heads an energy-only
    export never compiles) as the eager model did (float64)."""
    expected = Probe(model, targets).run(structures)
    loaded = export_and_save(model, path)
    evaluation = ModelEvaluationOptions(
        length_unit="angstrom",
        outputs={name: info.model_output() for name, info in targets.items()},
    )
    systems = exported_systems(structures, loaded)
    got = loaded(systems, evaluation, check_consistency=True)
    for name in targets:
        pairs = zip(got[name].blocks(), expected[name].blocks())
        for index, (ours, theirs) in enumerate(pairs):
            a, b = ours.values.detach(), theirs.values.detach()
            if not torch.allclose(a, b, rtol=1e-9, atol=1e-11):
                raise fail(
                    f"the exported model's output '{name}' (block {index}) differs "
                    f"from the model's before the export by "
                    f"{float((a - b).abs().max()):.3e}",
                    "compute every target the same way under TorchScript "
                    "(torch.jit.is_scripting()) as in Python",
                )


def run_exported(
    exported: Any, structures: List[Structure], dtype: torch.dtype
) -> torch.Tensor:
    """Energies ``[n]`` of ``structures`` computed by an exported model."""
    systems = exported_systems(structures, exported, dtype)
    evaluation = ModelEvaluationOptions(
        length_unit="angstrom", outputs={"energy": ENERGY.model_output()}
    )
    results = exported(systems, evaluation, check_consistency=True)
    return results["energy"].block().values[:, 0].detach().to(torch.float64)


class TorchScriptTests(ArchitectureFixtures):
    """The exported model compiles, round-trips through a file, moves between dtypes
    and devices, and runs in ASE through metatomic."""

    def test_export_save_load_and_run(
        self, model: ModelInterface[Any], structures: List[Structure], tmp_path: Path
    ) -> None:
        loaded = check_exported_predictions(model, structures, tmp_path / "model.pt")
        capabilities = loaded.capabilities()
        if sorted(capabilities.atomic_types) != sorted(self.atomic_types):
            raise fail(
                f"the exported capabilities list types {capabilities.atomic_types}",
                "export ModelCapabilities(atomic_types=dataset_info.atomic_types)",
            )

    def test_export_of_every_supported_target(
        self, build_model: ModelFactory, structures: List[Structure], tmp_path: Path
    ) -> None:
        targets = self.supported_targets()
        model = build_model(targets)
        check_exported_outputs(model, targets, structures, tmp_path / "model.pt")

    def test_float32_export(
        self, build_model: ModelFactory, structures: List[Structure], tmp_path: Path
    ) -> None:
        model: Any = build_model({"energy": ENERGY})
        if torch.float32 not in type(model).__supported_dtypes__:
            pytest.skip("float32 is not among __supported_dtypes__")
        reference = Probe(model, {"energy": ENERGY}).energy(structures)
        loaded = export_and_save(model.to(torch.float32), tmp_path / "model32.pt")
        if loaded.capabilities().dtype != "float32":
            raise fail(
                f"a model moved to float32 exports dtype "
                f"'{loaded.capabilities().dtype}'",
                "give ModelCapabilities the dtype of the model's parameters",
            )
        got = run_exported(loaded, structures, torch.float32)
        torch.testing.assert_close(got, reference, rtol=1e-4, atol=1e-4)

    def test_moves_to_every_supported_device(
        self, model: ModelInterface[Any], structures: List[Structure]
    ) -> None:
        devices = [
            d
            for d in type(model).__supported_devices__
            if d == "cpu" or (d == "cuda" and torch.cuda.is_available())
        ]
        if devices == ["cpu"] or not devices:
            pytest.skip("no accelerator available: only the CPU is tested")
        reference = Probe(model, {"energy": ENERGY}).energy(structures)
        for device in devices:
            moved = model.export().to(device)
            systems = [s.to(device) for s in exported_systems(structures, moved)]
            evaluation = ModelEvaluationOptions(
                length_unit="angstrom", outputs={"energy": ENERGY.model_output()}
            )
            values = moved(systems, evaluation, check_consistency=True)["energy"]
            torch.testing.assert_close(
                values.block().values[:, 0].cpu(), reference, rtol=1e-8, atol=1e-10
            )

    def test_runs_in_ase_through_metatomic(
        self,
        model: ModelInterface[Any],
        probe: Probe,
        molecule: Structure,
        tmp_path: Path,
    ) -> None:
        import ase
        from metatomic_ase import MetatomicCalculator

        export_and_save(model, tmp_path / "model.pt")
        atoms = ase.Atoms(
            numbers=molecule.types.numpy(), positions=molecule.positions.numpy()
        )
        atoms.calc = MetatomicCalculator(str(tmp_path / "model.pt"))
        energy, leaves = probe.energy_and_gradients(molecule)
        assert leaves.positions.grad is not None
        np.testing.assert_allclose(
            atoms.get_potential_energy(), float(energy), rtol=1e-9, atol=1e-10
        )
        np.testing.assert_allclose(
            atoms.get_forces(), -leaves.positions.grad.numpy(), rtol=1e-7, atol=1e-9
        )
