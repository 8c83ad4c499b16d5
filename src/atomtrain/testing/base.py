"""What an architecture tells the conformance suite, and the fixtures built from it.

A test class sets class attributes (the architecture's name, tiny hypers, what it
supports) and inherits the fixtures below; every suite class derives from
:class:`ArchitectureFixtures`. Fixtures may be overridden in the test class like any
pytest fixture, e.g. ``architecture_name`` to register the architecture first, or
``training_file`` to train on the architecture's own data.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Callable, ClassVar, Dict, List, Literal, Tuple

import pytest
import torch

from ..data.info import DatasetInfo, TargetInfo
from ..data.structure import Structure
from ..utils.abc import ModelInterface, TrainerInterface, WithCompositionBaseline
from .probe import Probe
from .systems import cluster, crystal

DocumentationLevel = Literal["bare", "experimental", "stable"]
TargetKind = Literal["scalar", "cartesian", "spherical"]

#: The energy the physics checks differentiate (eV, with forces and stress).
ENERGY = TargetInfo(quantity="energy", unit="eV", gradients=("positions", "strain"))

#: One example target of each kind, named as users name generic targets.
EXAMPLE_TARGETS: Dict[TargetKind, Dict[str, TargetInfo]] = {
    "scalar": {
        "energy": ENERGY,
        "mtt::charge": TargetInfo(quantity="charge", unit="e", sample_kind="atom"),
    },
    "cartesian": {
        "mtt::dipole": TargetInfo(kind="cartesian", rank=1),
        "mtt::polarizability": TargetInfo(kind="cartesian", rank=2),
    },
    "spherical": {
        "mtt::spherical": TargetInfo(kind="spherical", irreps=((0, 1), (1, 1), (2, 1)))
    },
}

ModelFactory = Callable[[Dict[str, TargetInfo]], ModelInterface[Any]]

#: The test id of the run with :attr:`ArchitectureFixtures.model_hypers` alone.
DEFAULT_VARIANT = "default"


#: The warnings TorchScript, metatensor and metatomic emit about their own internals
#: while a model is scripted, saved and run (hundreds per run of the suite): filtered
#: in every test of the suite, whatever the architecture's pytest configuration.
KNOWN_NOISE = [
    pytest.mark.filterwarnings("ignore:.*TorchScript.*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:metatensor.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:metatomic.*"),
    pytest.mark.filterwarnings("ignore::UserWarning:torch.jit.*"),
    # the suite's structures are neutral singlets: a conditioned model's defaults
    pytest.mark.filterwarnings(
        "ignore::atomtrain.data.system_inputs.DefaultInputWarning"
    ),
]


def with_baseline_weights(model: ModelInterface[Any], seed: int = 0) -> None:
    """Give the composition baseline of ``model`` (if it declares
    :class:`~atomtrain.utils.abc.WithCompositionBaseline`) random per-type weights.

    A fresh baseline predicts zero: checks comparing two ways of computing an output
    (eager and exported, checkpoint and export) would not see it switched off in one
    of them."""
    if not isinstance(model, WithCompositionBaseline):
        return
    baseline = model.composition_baseline
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in baseline.target_names:
            weights = baseline.target_weights(name)
            random = torch.randn(
                weights.shape, generator=generator, dtype=weights.dtype
            )
            weights.copy_(random.to(weights.device))


class ArchitectureFixtures:
    """Configuration and fixtures shared by every class of the suite.

    Set at least :attr:`architecture`; the other attributes have defaults that suit a
    position-dependent, invariant architecture of per-structure and per-atom scalars
    (energies with forces and stress, and per-atom scalars), trained for epochs by the
    shared engine. An architecture of energies only sets ``per_atom_outputs = False``
    (the default ``target_kinds`` already leaves vectors and tensors out).
    """

    pytestmark = KNOWN_NOISE

    architecture: ClassVar[str]
    """The name users write in ``architecture.name`` (e.g. ``experimental.mymodel``
    or an entry-point name)."""
    model_hypers: ClassVar[Dict[str, Any]] = {}
    """Overrides of the model defaults of ``documentation.py`` that make a tiny, fast
    model (merged key-wise into nested sections). Every model the suite builds and
    every options file it trains with uses them."""
    hypers_variants: ClassVar[Dict[str, Dict[str, Any]]] = {}
    """Further sets of model hypers to run the suite with, by name: each is merged
    over :attr:`model_hypers`, and every check that builds or trains a model runs
    once with :attr:`model_hypers` alone (test id ``default``) and once per variant
    (test id the variant's name). Use it for hypers that change which code runs (an
    optional module, another cutoff function); the golden checkpoints are those of
    the default hypers. Empty by default: one run, no test id added."""
    trainer_hypers: ClassVar[Dict[str, Any]] = {}
    """Overrides of the trainer defaults (the suite sets ``num_epochs`` and
    ``batch_size`` itself when :attr:`epoch_based`)."""
    documentation_level: ClassVar[DocumentationLevel] = "stable"
    """The level of ``documentation.py`` the architecture claims: ``"bare"`` (plain
    classes of defaults), ``"experimental"`` (plus docstrings) or ``"stable"`` (typed
    ``TypedDict`` classes, declared by the model and trainer classes)."""
    atomic_types: ClassVar[List[int]] = [1, 6, 8]
    """Atomic numbers of the models the suite builds and of its structures."""
    target_kinds: ClassVar[Tuple[TargetKind, ...]] = ("scalar",)
    """The kinds of targets the architecture models, among ``"scalar"``,
    ``"cartesian"`` and ``"spherical"``; building a model of any other kind must
    raise an error naming the target. One example target of each kind is checked
    (layout, equivariance, ``selected_atoms``)."""
    per_atom_outputs: ClassVar[bool] = True
    """Whether per-atom targets (``sample_kind: atom``) are supported, with
    ``selected_atoms`` for them. False for an architecture of energies (and other
    per-structure targets) only: the per-atom example target is then left out."""
    depends_on_positions: ClassVar[bool] = True
    """False for models whose outputs do not depend on positions (composition): the
    force and stress checks then require zero derivatives, and the checks of finite
    differences and second derivatives are skipped."""
    supports_stress: ClassVar[bool] = True
    """Whether the energy of periodic structures is differentiable by strain (stress
    and virial); False skips the check of the stress against finite strains."""
    rotation_tolerance: ClassVar[float] = 1e-8
    """Relative tolerance of invariance and equivariance under O(3), in float64;
    raise it for architectures that learn rotational symmetry from data."""
    epoch_based: ClassVar[bool] = True
    """Whether the trainer runs epochs (and writes one ``train.csv`` row each);
    False for a single fit (the composition model's least squares)."""
    supports_finetune: ClassVar[bool] = True
    """Whether ``training.finetune.read_from`` is accepted (False for trainers that
    refit from scratch, such as a least-squares fit)."""
    num_epochs: ClassVar[int] = 2
    """Epochs of the training runs through the command line (a restart adds one)."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run the checks that build or train a model once per set of hypers of
        :attr:`hypers_variants` (pytest calls this hook on test classes)."""
        if self.hypers_variants and "hypers_variant" in metafunc.fixturenames:
            names = [DEFAULT_VARIANT, *self.hypers_variants]
            metafunc.parametrize("hypers_variant", names)

    # ---- the architecture ----------------------------------------------------

    def supported_targets(self) -> Dict[str, TargetInfo]:
        """One example target of each supported kind (per-atom ones only when
        :attr:`per_atom_outputs`)."""
        targets: Dict[str, TargetInfo] = {}
        for kind in self.target_kinds:
            for name, info in EXAMPLE_TARGETS[kind].items():
                if info.per_atom and not self.per_atom_outputs:
                    continue
                targets[name] = info
        return targets

    @pytest.fixture
    def architecture_name(self) -> str:
        """The architecture's name; override to register it first if needed."""
        return self.architecture

    @pytest.fixture
    def architecture_module(self, architecture_name: str) -> ModuleType:
        from ..architectures import import_architecture

        return import_architecture(architecture_name)

    @pytest.fixture
    def model_class(self, architecture_module: ModuleType) -> type:
        model_class: type = architecture_module.__model__
        return model_class

    @pytest.fixture
    def trainer_class(self, architecture_module: ModuleType) -> type:
        trainer_class: type = architecture_module.__trainer__
        return trainer_class

    @pytest.fixture
    def hypers_variant(self) -> str:
        """The name of the set of hypers of this run of a check (parametrized over
        :attr:`hypers_variants` when there are any)."""
        return DEFAULT_VARIANT

    @pytest.fixture
    def model_overrides(self, hypers_variant: str) -> Dict[str, Any]:
        """:attr:`model_hypers`, with the variant of this run merged over them."""
        from ..architectures import merge_hypers

        if hypers_variant == DEFAULT_VARIANT:
            return merge_hypers({}, self.model_hypers)
        return merge_hypers(self.model_hypers, self.hypers_variants[hypers_variant])

    @pytest.fixture
    def hypers(
        self, architecture_name: str, model_overrides: Dict[str, Any]
    ) -> Dict[str, Dict[str, Any]]:
        """``{"model": ..., "training": ...}``: the defaults with this class's
        overrides (and those of the variant of this run)."""
        from ..architectures import get_defaults, merge_hypers

        defaults = get_defaults(architecture_name)
        return {
            "model": merge_hypers(defaults["model"], model_overrides),
            "training": merge_hypers(defaults["training"], self.trainer_hypers),
        }

    def prepare_model(self, model: ModelInterface[Any]) -> ModelInterface[Any]:
        """Called on every model the suite builds, before any check (after the
        composition baseline, if any, got random weights). Override to give an
        untrained model non-trivial outputs."""
        return model

    @pytest.fixture
    def build_model(
        self, model_class: type, hypers: Dict[str, Dict[str, Any]]
    ) -> ModelFactory:
        """``build_model(targets)``: a fresh float64 model of ``targets`` (seeded),
        its composition baseline given random weights (:func:`with_baseline_weights`)
        and passed through :meth:`prepare_model`."""

        def build(targets: Dict[str, TargetInfo]) -> ModelInterface[Any]:
            torch.manual_seed(0)
            info = DatasetInfo(
                length_unit="angstrom",
                atomic_types=list(self.atomic_types),
                targets=dict(targets),
            )
            model = model_class(dict(hypers["model"]), info).to(torch.float64).eval()
            with_baseline_weights(model)
            return self.prepare_model(model)

        return build

    @pytest.fixture
    def model(self, build_model: ModelFactory) -> ModelInterface[Any]:
        """A fresh model of the energy (eV, with forces and stress)."""
        return build_model({"energy": ENERGY})

    @pytest.fixture
    def probe(self, model: ModelInterface[Any]) -> Probe:
        return Probe(model, {"energy": ENERGY})

    # ---- structures ----------------------------------------------------------

    @pytest.fixture
    def molecule(self) -> Structure:
        """A non-periodic cluster of 5 atoms with every atomic type."""
        return cluster(self.atomic_types, 5, seed=1)

    @pytest.fixture
    def periodic(self) -> Structure:
        """A small sheared periodic cell of 4 atoms."""
        return crystal(self.atomic_types, 4, seed=2)

    @pytest.fixture
    def structures(self, molecule: Structure, periodic: Structure) -> List[Structure]:
        return [molecule, periodic, cluster(self.atomic_types, 3, seed=4)]

    # ---- data and files ------------------------------------------------------

    @pytest.fixture
    def training_file(self, tmp_path_factory: pytest.TempPathFactory) -> Path:
        """An extended-XYZ file to train on: 24 clusters of the atomic types labelled
        with ASE's EMT calculator (``energy`` in eV, ``forces``). Override it to
        train on the architecture's own data; see also :meth:`training_targets`."""
        from .datafiles import write_emt_clusters

        path = tmp_path_factory.mktemp("suite-data") / "emt_clusters.xyz"
        write_emt_clusters(path, self.atomic_types, count=24)
        return path

    @pytest.fixture
    def training_targets(self) -> Dict[str, Any]:
        """The ``targets`` section of the options for :meth:`training_file`."""
        return {"energy": {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}}

    @pytest.fixture
    def golden_directory(self) -> Path:
        """The folder of the architecture's golden checkpoints (one per version).

        Override it in the test class, for example
        ``return Path(__file__).parent / "checkpoints"``.
        """
        pytest.fail(
            "the checkpoint tests need the folder of the golden checkpoints: override "
            "the fixture 'golden_directory' in the test class to return it (a folder "
            "in the architecture's tests, e.g. Path(__file__).parent / 'checkpoints')"
        )

    def trainer(self, trainer_class: type, hypers: Dict[str, Any]) -> Any:
        """A trainer with ``hypers['training']``."""
        instance: TrainerInterface[Any] = trainer_class(dict(hypers["training"]))
        return instance
