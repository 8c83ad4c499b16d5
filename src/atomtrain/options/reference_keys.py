"""Trainer and model options of metatrain's grammar that atomtrain has no use for.

An options file written for metatrain may set them. Each is accepted at the values that
ask for nothing atomtrain lacks: it is removed before the trainer's hypers are
validated, and an :class:`IgnoredOptionWarning` names it with the reason. Any other
value is a problem naming the key and what atomtrain accepts. ``weight_decay: null``
(metatrain's "no weight decay") is read as 0, and a ``finetune`` section with
``read_from: null`` (metatrain's default, no fine-tuning) is dropped. An architecture
whose trainer declares one of these keys gets it validated as its own.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Collection, Dict, List, Tuple

from ..errors import Problem


class IgnoredOptionWarning(UserWarning):
    """An option of metatrain's grammar was accepted and has no effect here."""


@dataclass(frozen=True)
class ReferenceKey:
    """A metatrain trainer option: which values are accepted (and ignored), what to
    say when another value is given, and why it has no effect."""

    accepts: Callable[[Any], bool]
    expected: str
    reason: str


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


REFERENCE_TRAINING_KEYS: Dict[str, ReferenceKey] = {
    "log_mae": ReferenceKey(
        lambda value: isinstance(value, bool),
        "true or false",
        "MAEs are always written to train.csv",
    ),
    "log_separate_blocks": ReferenceKey(
        lambda value: value is False,
        "false: metrics per block are not available",
        "each target is logged as a whole",
    ),
    "distributed": ReferenceKey(
        lambda value: isinstance(value, bool),
        "true or false",
        "training runs on several processes whenever a launcher (torchrun, srun) "
        "starts them",
    ),
    "distributed_port": ReferenceKey(
        lambda value: _count(value) and value < 65536,
        "a port number",
        "the launcher gives the port (MASTER_PORT)",
    ),
    "fixed_scaling_weights": ReferenceKey(
        lambda value: value == {},
        "{}: fixed output scales are not available (scale_targets fits them)",
        "output scales are fitted from the training set",
    ),
    "min_atoms_per_batch": ReferenceKey(
        lambda value: value == 0 and not isinstance(value, bool),
        "0: a lower bound on the atoms of a batch is not available",
        "batches are not filtered by size from below",
    ),
}


#: Model options of metatrain's PET and SOAP-BPNN, by architecture, accepted where
#: they ask for nothing atomtrain's implementation does not do.
REFERENCE_MODEL_KEYS: Dict[str, Dict[str, ReferenceKey]] = {
    "soap_bpnn": {
        "legacy": ReferenceKey(
            lambda value: value is True,
            "true: the variant with a chemical embedding is not available",
            "true, one network per atomic type, as atomtrain's SOAP-BPNN has",
        ),
        "add_lambda_basis": ReferenceKey(
            lambda value: value is True,
            "true: the basis of tensor targets always holds the expansion of "
            "their degree",
            "true, the basis of tensor targets holds the expansion of their degree",
        ),
    },
}


def _split(
    values: Dict[str, Any],
    declared: Collection[str],
    path: str,
    table: Dict[str, ReferenceKey],
) -> Tuple[Dict[str, Any], List[Problem], List[str]]:
    """``values`` without the options of ``table`` the architecture does not
    declare, the problems of those given values atomtrain cannot honour, and the
    descriptions of those ignored."""
    kept: Dict[str, Any] = {}
    problems: List[Problem] = []
    ignored: List[str] = []
    for key, value in values.items():
        option = table.get(key)
        if option is None or key in declared:
            kept[key] = value
        elif option.accepts(value):
            ignored.append(f"{path}.{key} ({option.reason})")
        else:
            problems.append(
                Problem(
                    f"{path}.{key}",
                    f"an option of metatrain that atomtrain accepts only as "
                    f"{option.expected}",
                    value,
                )
            )
    return kept, problems, ignored


def _warn(ignored: List[str]) -> None:
    if ignored:
        warnings.warn(
            "options of metatrain that have no effect here were ignored: "
            + "; ".join(ignored),
            IgnoredOptionWarning,
            stacklevel=3,
        )


def without_reference_model_keys(
    model: Dict[str, Any], architecture: str, declared: Collection[str], path: str
) -> Tuple[Dict[str, Any], List[Problem]]:
    """``model`` (the section at ``path``) without metatrain's model options of
    ``architecture`` (:data:`REFERENCE_MODEL_KEYS`) it does not declare, and the
    problems of the values atomtrain cannot honour. Warns, naming those ignored."""
    table = REFERENCE_MODEL_KEYS.get(architecture, {})
    kept, problems, ignored = _split(model, declared, path, table)
    _warn(ignored)
    return kept, problems


def without_reference_keys(
    training: Dict[str, Any], declared: Collection[str], path: str
) -> Tuple[Dict[str, Any], List[Problem]]:
    """``training`` (the section at ``path``) without the metatrain-only options
    that the architecture does not declare itself, and the problems of those given
    values atomtrain cannot honour. Warns once, naming the options ignored."""
    kept, problems, ignored = _split(training, declared, path, REFERENCE_TRAINING_KEYS)
    if "weight_decay" in kept and kept["weight_decay"] is None:
        kept["weight_decay"] = 0.0
    finetune = kept.get("finetune")
    # metatrain writes ``read_from: null`` for "no fine-tuning"; a section without
    # the key is a problem the validation of the hypers reports
    if isinstance(finetune, dict) and finetune.get("read_from", "") is None:
        del kept["finetune"]
        ignored.append(f"{path}.finetune (read_from: null, no fine-tuning)")
    _warn(ignored)
    return kept, problems
