"""The engine's typed view of the trainer hypers: built from the declaration's
defaults, frozen, and checked against the declaration key for key."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import re
from pathlib import Path
from typing import Any, ClassVar, Dict, Optional

import pytest

from atomtrain.architectures import import_architecture
from atomtrain.architectures.hypers import get_defaults
from atomtrain.training.engine import EngineTrainer
from atomtrain.training.hypers import BaseTrainerHypers, base_trainer_defaults
from atomtrain.training.settings import (
    TrainerSettings,
    declaration_mismatches,
    frozen_view,
)


def test_settings_hold_the_declared_defaults_frozen() -> None:
    settings = TrainerSettings.from_hypers(base_trainer_defaults())
    for name, default in base_trainer_defaults().items():
        value = getattr(settings, name)
        assert value == default or (value, default) in (((), []),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.num_epochs = 3  # type: ignore[misc]
    hypers = {
        **base_trainer_defaults(),
        "loss": {"energy": {"forces": {"weight": 10.0}}},
        "per_structure_targets": ["mtt::dipole"],
    }
    settings = TrainerSettings.from_hypers(hypers)
    assert settings.per_structure_targets == ("mtt::dipole",)
    with pytest.raises(TypeError):
        settings.loss["energy"]["forces"]["weight"] = 1.0  # type: ignore[index]
    # the hypers themselves (what checkpoints store) are left as they were
    hypers["loss"]["energy"]["forces"]["weight"] = 1.0
    assert settings.loss == {"energy": {"forces": {"weight": 10.0}}}
    # a trainer may be deep-copied or sent to another process
    assert pickle.loads(pickle.dumps(settings)) == settings
    assert copy.deepcopy(settings) == settings


def test_hypers_that_were_not_expanded_are_refused() -> None:
    hypers = base_trainer_defaults()
    del hypers["batch_size"], hypers["loss"]
    with pytest.raises(KeyError, match="batch_size, loss"):
        frozen_view(TrainerSettings, hypers)


def test_the_shared_settings_are_the_declared_hypers() -> None:
    assert declaration_mismatches(TrainerSettings) == []
    assert [f.name for f in dataclasses.fields(TrainerSettings)] == list(
        BaseTrainerHypers.__annotations__
    )


@dataclasses.dataclass(frozen=True)
class _Drifted(TrainerSettings):
    __declaration__: ClassVar[type] = BaseTrainerHypers

    random_rotations: bool


@dataclasses.dataclass(frozen=True)
class _Mistyped(TrainerSettings):
    __declaration__: ClassVar[type] = BaseTrainerHypers

    batch_size: Optional[int]  # type: ignore[assignment]


def test_a_settings_class_that_drifts_from_its_declaration_is_found() -> None:
    assert declaration_mismatches(_Drifted) == ["random_rotations: not declared"]
    (mismatch,) = declaration_mismatches(_Mistyped)
    assert mismatch.startswith("batch_size: declared <class 'int'>")
    pet = import_architecture("pet").__trainer__.settings_class
    # the base settings lack PET's own keys
    assert declaration_mismatches(TrainerSettings, pet.__declaration__) == [
        "random_reflections: declared, not in the settings",
        "random_rotations: declared, not in the settings",
    ]


@pytest.mark.parametrize("name", ["pet", "soap_bpnn", "mace"])
def test_each_trainer_reads_its_own_declared_defaults(name: str) -> None:
    trainer_class = import_architecture(name).__trainer__
    defaults = get_defaults(name)["training"]
    trainer = trainer_class(defaults)
    for key, value in defaults.items():
        read = getattr(trainer.settings, key)
        assert read == value or (isinstance(value, list) and read == tuple(value))


def test_the_guide_s_settings_subclass_runs_as_written() -> None:
    guide = Path(__file__).parents[2] / "docs" / "adding-an-architecture.md"
    blocks = re.findall(r"^```python\n(.*?)^```$", guide.read_text(), re.M | re.S)
    (block,) = [b for b in blocks if "settings_class" in b]
    pet = import_architecture("pet")
    declaration = pet.__trainer__.settings_class.__declaration__
    namespace: Dict[str, Any] = {
        "dataclass": dataclasses.dataclass,
        "ClassVar": ClassVar,
        "TrainerSettings": TrainerSettings,
        "EngineTrainer": EngineTrainer,
        "TrainerHypers": declaration,
    }
    # as a file of its own would run it, without this module's __future__ import
    exec(
        compile(block, "adding-an-architecture.md", "exec", dont_inherit=True),
        namespace,
    )
    # the guide's class reads one of PET's two own keys: the suite would say so
    assert declaration_mismatches(namespace["MyTrainerSettings"]) == [
        "random_reflections: declared, not in the settings"
    ]
    trainer = namespace["MyTrainer"](get_defaults("pet")["training"])
    assert trainer.settings.random_rotations is True


def test_trainers_outside_the_engine_read_their_declared_hypers() -> None:
    from atomtrain.composition.trainer import CompositionTrainerSettings
    from atomtrain.llpr.trainer import LLPRTrainerSettings

    for name, settings_class in (
        ("llpr", LLPRTrainerSettings),
        ("composition", CompositionTrainerSettings),
    ):
        assert declaration_mismatches(settings_class) == []
        defaults = get_defaults(name)["training"]
        trainer = import_architecture(name).__trainer__(defaults)
        assert isinstance(trainer.settings, settings_class)
        assert dataclasses.asdict(trainer.settings) == defaults
        with pytest.raises(dataclasses.FrozenInstanceError):
            trainer.settings.batch_size = 1  # type: ignore[misc]
