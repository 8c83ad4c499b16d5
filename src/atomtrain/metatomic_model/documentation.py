r"""
Metatomic
=========

Fine-tunes an exported metatomic model — a TorchScript ``AtomisticModel`` saved as
``model.pt``, whichever code trained it (atomtrain, the reference implementation,
a foundation model distributed as a metatomic file) — on your own data, with the
shared training engine: restarts, EMA, early stopping, distributed training,
checkpoints and export work as for every architecture. The tutorial *Fine-tune a
pretrained model* runs this section::

    architecture:
      name: metatomic
      model:
        path: pretrained.pt
        extensions: extensions/
        trainable: ["*"]
      training:
        num_epochs: 20
        batch_size: 5
        learning_rate: 1.0e-3
        replay: {read_from: replay.xyz, weight: 0.5}
        loss:
          energy:
            forces: {weight: 10.0}

``path`` is the exported model, ``extensions`` the directory of its compiled
extensions (if it has any), ``trainable`` the parameters that train. Paths are
relative to the directory ``atomtrain train`` runs in.

What is learned
---------------

The model's ``energy`` (and its variants such as ``energy/pbe``), with forces,
stress and virial by automatic differentiation, and any other output of the model
that a target of the dataset names, when the units convert. The model's units are
read from its capabilities and converted to the dataset's (an energy in eV trained
on labels in kcal/mol is multiplied by 23.06). Lengths too: on a dataset in bohr,
the positions, cells and neighbour vectors are converted to the model's unit
before it sees them, so forces and stress come out per bohr, and the exported
model works in bohr.
A target the model does not compute, an element outside the model's atomic types,
a model without ``energy``, a file that is not a metatomic model and a missing
extension are errors naming the file and what is missing, before the run directory
is created.

On top of the model's energy, a per-element energy correction (a composition term,
fitted by least squares on the difference between the labels and the pretrained
model's predictions of the training structures, before the first update) absorbs a
shift of reference energies between the pretrained model's level of theory and
yours, so that the network does not have to learn it.

``trainable`` selects the parameters that train, by ``fnmatch`` patterns on the
names of the wrapped model's parameters (``python -c "import metatomic.torch as mt;
print([n for n, _ in mt.load_atomistic_model('model.pt').module.named_parameters()])"``
lists them): ``["*"]`` trains everything; ``["backend.node_last_layers.*",
"backend.edge_last_layers.*"]`` the last layers of a PET exported by the reference
implementation only. The wrapped model always runs in evaluation mode
(dropout off), and outside TorchScript's profiling executor, which otherwise
re-specialises the model for new batch shapes (measured on a PET of the reference
implementation: 10.8 s instead of 1.5 s for the first four steps, and no faster
afterwards).

Checks
------

Before the first update, the predictions of up to 20 training structures are
compared with those of metatomic's ASE calculator on the original file (energies
and forces, to 1e-6 relative in float64 and 1e-4 in float32); the comparison is
printed, and a difference is an error.

Replay
------

``replay`` labels the structures of ``read_from`` (any file ASE reads, in the
dataset's length unit) once, before training, with the pretrained model's own
energies and forces, and trains on them beside the new data as the target
``energy/replay`` (its loss weighted by ``weight`` relative to the energy's), which
limits how much of the pretraining the model forgets.

Checkpoints and export
----------------------

A checkpoint holds the wrapped model's TorchScript archive as bytes with the
trained weights (plain data, loaded with ``weights_only=True``). The exported model
is the wrapped model with the fine-tuned weights and the energy correction, keeping
the original metadata, with a note of the fine-tuning (training files and their
sha256, the options) in the metadata's ``extra["atomtrain-finetune"]``. The model's
last-layer features (``mtt::aux::energy_last_layer_features``), when it has them,
are kept, so that ``llpr`` works on the fine-tuned model.
"""

from __future__ import annotations

from typing import List, Optional

from typing_extensions import NotRequired, TypedDict

from atomtrain.training.hypers import BaseTrainerHypers, PositiveFloat, PositiveInt


class ModelHypers(TypedDict):
    """The exported model to fine-tune, and what of it trains."""

    path: Optional[str] = None
    """Path of the exported metatomic model (``model.pt``); required."""
    extensions: Optional[str] = None
    """Directory of the model's compiled TorchScript extensions (``extensions/``),
    for models that have some."""
    trainable: List[str] = ["*"]
    """``fnmatch`` patterns of the names of the parameters to train (names as in
    the wrapped model's ``named_parameters()``); the others are frozen. Each
    pattern must match at least one parameter."""


class ReplayHypers(TypedDict):
    """Structures of the pretraining's domain, labelled by the pretrained model."""

    read_from: str
    """File of structures (any format ASE reads) to label with the pretrained
    model's energies and forces."""
    weight: NotRequired[PositiveFloat]
    """Weight of the replay's loss terms relative to those of the energy (default
    1.0)."""


class TrainerHypers(BaseTrainerHypers):
    """The shared trainer hyperparameters, with fine-tuning defaults."""

    num_epochs: PositiveInt = 50
    """Number of passes over the training set."""
    batch_size: PositiveInt = 8
    """Number of structures per batch."""
    learning_rate: PositiveFloat = 1e-4
    """Learning rate: small, so that fine-tuning starts from the pretrained
    weights rather than erasing them."""
    replay: Optional[ReplayHypers] = None
    """Structures to keep the pretrained model's predictions on (see above;
    ``null``: none)."""
