r"""
Composition
===========

A per-element linear model of invariant scalar targets: each atomic type :math:`t`
contributes a fixed value :math:`w_t` to the prediction. For a per-structure target such
as the energy of structure :math:`A`,

.. math::

    \hat{y}_A = \sum_{i \in A} w_{t_i} = \sum_t n_t(A)\, w_t ,

where :math:`n_t(A)` counts the atoms of type :math:`t` in :math:`A`; the weights are
the least-squares solution over the training structures, computed in float64. For a
per-atom target, :math:`\hat{y}_i = w_{t_i}` and :math:`w_t` is the mean of the labels
of the atoms of type :math:`t`. Structures without a label (or with NaN) are skipped,
and types absent from the training data get the weight 0. When every training structure
has the same composition (a molecular-dynamics trajectory of one molecule), the split
between elements is not determined by the data: the minimum-norm solution is used,
which predicts these structures exactly.

Training is a single linear solve, not a gradient descent: it is exact and takes
seconds. The model predicts no forces or stress (they are zero: the energy does not
depend on positions), and only scalar targets; Cartesian and spherical targets are
refused with an error naming them.

Every other architecture adds this same composition baseline to its predictions and
removes it from the labels before training, so the composition model is mostly useful
to inspect per-element reference values, as a floor that any model must beat, and to
fix some of these values with ``atomic_baseline`` (for example isolated-atom energies)
while fitting the others.
"""

from __future__ import annotations

from typing import Dict

from typing_extensions import TypedDict


class ModelHypers(TypedDict):
    """The composition model has no hyperparameters: its atomic types and targets
    come from the training data."""


class TrainerHypers(TypedDict):
    """Hyperparameters of the least-squares fit."""

    atomic_baseline: Dict[str, Dict[int, float]] = {}
    """Fixed per-element values, per target, kept as given instead of fitted (e.g.
    ``{energy: {1: -13.6, 8: -2041.3}}``, in the target's unit); the other elements
    are fitted on what remains once these contributions are removed."""
