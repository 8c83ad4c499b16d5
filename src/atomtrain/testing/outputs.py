"""Suite: the outputs of a model (layouts, selections, partial elements, one atom)."""

from __future__ import annotations

from typing import Any, List

import pytest
import torch

from ..data.structure import Structure
from .base import (
    ENERGY,
    EXAMPLE_TARGETS,
    ArchitectureFixtures,
    ModelFactory,
    TargetKind,
)
from .output_checks import (
    check_equivariance,
    check_layout,
    check_selected_all_atoms,
    check_selected_atoms,
    check_selected_atoms_sum,
)
from .probe import Probe, fail
from .systems import cluster

ALL_KINDS: tuple[TargetKind, ...] = ("scalar", "cartesian", "spherical")


class OutputTests(ArchitectureFixtures):
    """Every supported target kind has the layout of its labels; unsupported kinds are
    refused when the model is built."""

    @pytest.fixture
    def multi_probe(self, build_model: ModelFactory) -> Probe:
        """A model of every supported example target at once."""
        targets = self.supported_targets()
        return Probe(build_model(targets), targets)

    def test_supported_outputs_describe_every_target(self, multi_probe: Probe) -> None:
        outputs = multi_probe.model.supported_outputs()  # type: ignore[operator]
        for name, info in multi_probe.targets.items():
            if name not in outputs:
                raise fail(
                    f"supported_outputs() lacks the target '{name}'",
                    "return one ModelOutput per target of dataset_info "
                    "(TargetInfo.model_output() gives it)",
                )
            if outputs[name].sample_kind != info.sample_kind:
                raise fail(
                    f"supported_outputs()['{name}'] has sample_kind "
                    f"'{outputs[name].sample_kind}', expected '{info.sample_kind}'",
                    "use TargetInfo.model_output() for each target",
                )

    def test_layout_of_every_supported_target(
        self, multi_probe: Probe, structures: List[Structure]
    ) -> None:
        results = multi_probe.run(structures)
        for name, info in multi_probe.targets.items():
            if name not in results:
                raise fail(
                    f"the model did not return the requested output '{name}'",
                    "return every output requested in `outputs`",
                )
            check_layout(results[name], name, info, structures, torch.float64)

    def test_only_requested_outputs_are_returned(
        self, multi_probe: Probe, structures: List[Structure]
    ) -> None:
        results = multi_probe.run(structures, ["energy"])
        if set(results) != {"energy"}:
            raise fail(
                f"asked for 'energy' only, the model returned {sorted(results)}",
                "compute and return only the outputs present in `outputs`",
            )

    @pytest.mark.parametrize("kind", ALL_KINDS)
    def test_unsupported_target_kinds_are_refused(
        self, kind: TargetKind, build_model: ModelFactory
    ) -> None:
        if kind in self.target_kinds:
            pytest.skip(f"{kind} targets are supported (checked by the layout test)")
        targets = {"energy": ENERGY, **EXAMPLE_TARGETS[kind]}
        refused = [n for n in EXAMPLE_TARGETS[kind] if n != "energy"]
        try:
            build_model(targets)
        except Exception as error:
            if not any(name in str(error) for name in refused):
                raise fail(
                    f"building a model with the {kind} target {refused} raised "
                    f"{type(error).__name__}: {error}, which does not name the target",
                    "name the unsupported targets in the error message",
                ) from error
            return
        raise fail(
            f"building a model with the {kind} target {refused} did not raise",
            f"check dataset_info.targets in __init__ and raise a UserError naming "
            f"the {kind} targets the architecture cannot model (or declare "
            f"'{kind}' in target_kinds if it can)",
        )

    def test_per_atom_selected_atoms(
        self, multi_probe: Probe, structures: List[Structure]
    ) -> None:
        per_atom = [n for n, i in multi_probe.targets.items() if i.per_atom]
        if not per_atom:
            pytest.skip("the architecture declares no per-atom outputs")
        for name in per_atom:
            check_selected_atoms(multi_probe, structures, name)

    def test_per_structure_selected_atoms(
        self, multi_probe: Probe, structures: List[Structure]
    ) -> None:
        for name, info in multi_probe.targets.items():
            if not info.per_atom and info.kind == "scalar":
                check_selected_atoms_sum(multi_probe, structures, name)

    def test_selecting_every_atom_changes_nothing(
        self, probe: Probe, structures: List[Structure]
    ) -> None:
        check_selected_all_atoms(probe, structures, "energy")

    def test_structure_with_some_of_the_elements(self, multi_probe: Probe) -> None:
        some = cluster(self.atomic_types[: max(1, len(self.atomic_types) - 1)], 4, 7)
        results = multi_probe.run([some])
        for name, info in multi_probe.targets.items():
            check_layout(results[name], name, info, [some], torch.float64)

    def test_single_atom(self, multi_probe: Probe) -> None:
        atom = cluster(self.atomic_types[:1], 1, seed=8)
        results = multi_probe.run([atom])
        for name, info in multi_probe.targets.items():
            check_layout(results[name], name, info, [atom], torch.float64)

    def test_equivariance_of_every_supported_target(
        self, multi_probe: Probe, structures: List[Structure]
    ) -> None:
        for name, info in multi_probe.targets.items():
            check_equivariance(
                multi_probe, structures, name, info, self.rotation_tolerance
            )

    def test_float32(
        self, build_model: ModelFactory, structures: List[Structure]
    ) -> None:
        model: Any = build_model({"energy": ENERGY})
        if torch.float32 not in type(model).__supported_dtypes__:
            pytest.skip("float32 is not among __supported_dtypes__")
        model = model.to(torch.float32)
        probe = Probe(model, {"energy": ENERGY}, dtype=torch.float32)
        check_layout(
            probe.run(structures)["energy"], "energy", ENERGY, structures, torch.float32
        )
