"""Safe, versioned checkpoints.

A checkpoint is one file written by :func:`write_checkpoint_file` (atomically) and
read by :func:`read_checkpoint_file` (with ``torch.load(weights_only=True)``: a crafted
file cannot run code). It holds plain data only — dicts, lists, tuples, str, int,
float, bool, ``None`` and tensors — laid out as::

    {
        "format": "atomtrain-checkpoint",
        "atomtrain_version": "0.1.0",          # the atomtrain that wrote it
        "architecture_name": "composition",     # as users write it in the options
        "model_checkpoint_version": 1,          # the model's __checkpoint_version__
        "model": {...},                         # the architecture's own plain data
        "trainer_checkpoint_version": 1,        # optional: only with a trainer section
        "trainer": {...},                       # optional: state to restart training
    }

``ModelInterface.get_checkpoint()`` returns this dict without the trainer entries (start
it with :func:`new_checkpoint`); ``TrainerInterface.save_checkpoint(model, path)`` adds
them and calls :func:`write_checkpoint_file`. An architecture's ``upgrade_checkpoint``
classmethods call :func:`upgrade` with their chain of one-step upgrades (a step that
renames or changes tensors does so in every stored copy of the weights with
:func:`rename_parameters` or :func:`upgrade_weights`), and its tests keep one golden
checkpoint per version, compared with :func:`checkpoint_fingerprint`.
"""

from .content import (
    CheckpointContentError,
    check_weights,
    in_checkpoint,
    load_weights,
)
from .io import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    check_plain_data,
    new_checkpoint,
    read_checkpoint_file,
    write_checkpoint_file,
)
from .versions import (
    CheckpointVersionError,
    IncompleteUpgradeError,
    UpgradeStep,
    checkpoint_fingerprint,
    checkpoint_signature,
    upgrade,
)
from .weights import (
    WeightsChange,
    model_weights,
    rename_parameters,
    stored_model_weights,
    upgrade_weights,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointContentError",
    "CheckpointError",
    "CheckpointVersionError",
    "IncompleteUpgradeError",
    "UpgradeStep",
    "WeightsChange",
    "check_plain_data",
    "check_weights",
    "checkpoint_fingerprint",
    "checkpoint_signature",
    "in_checkpoint",
    "load_weights",
    "model_weights",
    "new_checkpoint",
    "read_checkpoint_file",
    "rename_parameters",
    "stored_model_weights",
    "upgrade",
    "upgrade_weights",
    "write_checkpoint_file",
]
