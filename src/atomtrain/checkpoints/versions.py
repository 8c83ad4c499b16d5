"""Checkpoint versions: chains of one-step upgrades, and format fingerprints.

Each architecture numbers the format of its model section and of its trainer section
(``__checkpoint_version__``). When a format changes, the architecture bumps the number
and adds one function that turns a checkpoint of the previous version into the new one;
:func:`upgrade` applies these steps in order. :func:`checkpoint_fingerprint` hashes the
shape of a checkpoint (key names, value types, tensor dtypes and ranks) so that a test
can detect a format change made without a version bump.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Dict, Literal, Mapping

import torch

from .._version import __version__
from .content import CheckpointContentError
from .weights import copies_out_of_step

Section = Literal["model", "trainer"]
UpgradeStep = Callable[[Dict[str, Any]], Dict[str, Any]]


class CheckpointVersionError(CheckpointContentError):
    """A checkpoint written by a newer atomtrain than this one."""


class IncompleteUpgradeError(RuntimeError):
    """An upgrade step of an architecture changed some copies of the model's weights
    and not others (a bug of the architecture, not of the checkpoint)."""


def upgrade(
    checkpoint: Dict[str, Any],
    section: Section,
    current_version: int,
    steps: Mapping[int, UpgradeStep],
) -> Dict[str, Any]:
    """Bring ``checkpoint[section]`` to ``current_version``.

    ``steps[v]`` turns a whole checkpoint whose ``section`` is at version ``v`` into
    one at version ``v + 1`` (it may change any entry of the section). The version is
    read from ``checkpoint[f"{section}_checkpoint_version"]`` and updated after each
    step. A checkpoint newer than ``current_version`` raises
    :class:`CheckpointVersionError`; a missing version, or one that is not an integer
    or is older than the oldest step (no such checkpoint was ever written), raises
    :class:`CheckpointContentError`; a missing step is a bug of the architecture and
    raises a :class:`KeyError` naming it. A step of the model section must change
    every copy of the weights the checkpoint holds (live, best, EMA: see
    :func:`~atomtrain.checkpoints.rename_parameters`); one that leaves them out of
    step raises :class:`IncompleteUpgradeError`.
    """
    version_key = f"{section}_checkpoint_version"
    version = _stored_version(checkpoint, section, current_version, steps)
    in_step = section == "model" and not copies_out_of_step(checkpoint)
    while version < current_version:
        if version not in steps:
            raise KeyError(
                f"no upgrade step from {section} checkpoint version {version} to "
                f"{version + 1}: add steps[{version}] to the architecture's "
                "upgrade_checkpoint"
            )
        checkpoint = steps[version](checkpoint)
        if in_step and copies_out_of_step(checkpoint):
            raise IncompleteUpgradeError(
                f"the upgrade step of the model of "
                f"'{checkpoint.get('architecture_name', '?')}' from version {version} "
                f"to {version + 1} changed the live weights only: "
                f"{'; '.join(copies_out_of_step(checkpoint))}. Change every copy of "
                "the weights in the step with atomtrain.checkpoints.rename_parameters "
                "or upgrade_weights"
            )
        version += 1
        checkpoint[version_key] = version
    return checkpoint


def _stored_version(
    checkpoint: Dict[str, Any],
    section: Section,
    current_version: int,
    steps: Mapping[int, UpgradeStep],
) -> int:
    """The version of ``checkpoint[section]``, refused when missing, damaged or newer
    than ``current_version`` (see :func:`upgrade`)."""
    version_key = f"{section}_checkpoint_version"
    if version_key not in checkpoint:
        raise CheckpointContentError(
            f"the checkpoint has no '{version_key}' entry: it was not written by "
            "atomtrain or is damaged"
        )
    version = checkpoint[version_key]
    # the first version an architecture wrote is the oldest it has a step from
    oldest = min(steps, default=current_version)
    if type(version) is not int or version < oldest:
        known = (
            f"version {oldest}"
            if oldest == current_version
            else f"versions {oldest} to {current_version}"
        )
        raise CheckpointContentError(
            f"its entry '{version_key}' is {version!r}, but the {section} of "
            f"'{checkpoint.get('architecture_name', '?')}' has {known} only: the "
            "file is damaged or was edited"
        )
    if version > current_version:
        raise CheckpointVersionError(
            f"this checkpoint needs a newer atomtrain (checkpoint version {version} of "
            f"the {section} of '{checkpoint.get('architecture_name', '?')}', this "
            f"atomtrain {__version__} reads up to {current_version}); upgrade atomtrain"
        )
    return version


def checkpoint_signature(structure: Any) -> Any:
    """The shape of a checkpoint without its values.

    Dicts keep their keys (sorted) with the signature of each value; a list or a tuple
    becomes the sorted distinct signatures of its items; a tensor becomes
    ``"tensor(<dtype>, rank <n>)"``; any other value the name of its type. Sizes are
    left out: they depend on the data, not on the format.
    """
    if isinstance(structure, torch.Tensor):
        dtype = str(structure.dtype).removeprefix("torch.")
        return f"tensor({dtype}, rank {structure.dim()})"
    if isinstance(structure, Mapping):
        return {str(key): checkpoint_signature(structure[key]) for key in structure}
    if isinstance(structure, (list, tuple)):
        items = {
            json.dumps(checkpoint_signature(item), sort_keys=True) for item in structure
        }
        return {f"{type(structure).__name__}[]": sorted(items)}
    return type(structure).__name__


def checkpoint_fingerprint(structure: Any) -> str:
    """A stable hash (hex) of :func:`checkpoint_signature`."""
    canonical = json.dumps(checkpoint_signature(structure), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
