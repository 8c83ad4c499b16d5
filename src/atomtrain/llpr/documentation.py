"""
LLPR
====

Uncertainties for a trained model of any architecture that exposes its last-layer
features (outputs ``mtt::aux::<target>_last_layer_features``), by last-layer prediction
rigidity (Bigi, Chong, Ceriotti and Grasselli, *Mach. Learn.: Sci. Technol.* 5, 045018,
2024). The model is read from ``training.model_checkpoint``; nothing is trained.

For each target ``t`` with a single property, the features ``φ`` of the training
structures give the covariance ``C = Σ φ φᵀ``; the uncertainty of a prediction is
``sigma = sqrt(α² φᵀ (C + λ I)⁻¹ φ)``. The regulariser ``λ`` (unless given) and the
scale ``α²`` maximise the Gaussian likelihood of the errors on the validation set, and
the fraction of validation errors within ±1 sigma and ±2 sigma is printed next to the
Gaussian 68.3 % and 95.4 %. The exported model adds ``<t>_uncertainty``
(``energy_uncertainty`` for the energy, a standard metatomic output) and, for targets
listed in ``ensembles``, ``<t>_ensemble``: predictions of last layers sampled from the
posterior
``N(w, α² (C + λ I)⁻¹)``, differentiable, so that each member has forces too.
Variants keep their suffix: ``energy/pbe`` gets ``energy_uncertainty/pbe``.
"""

from typing import Dict, Optional

from typing_extensions import TypedDict

from atomtrain.training.hypers import NonNegativeFloat, PositiveInt


class ModelHypers(TypedDict):
    """Hyperparameters of the LLPR wrapper."""

    ensembles: Dict[str, PositiveInt] = {}
    """Number of last-layer ensemble members per target (e.g. ``{energy: 16}``)."""


class TrainerHypers(TypedDict):
    """How the covariance and the calibration are computed."""

    model_checkpoint: Optional[str] = None
    """Checkpoint of the trained model to wrap (required)."""
    regularizer: Optional[NonNegativeFloat] = None
    """``λ`` added to the covariance before inverting it, in the squared units of
    the features (``null``: chosen on the validation set)."""
    batch_size: PositiveInt = 16
    """Structures per batch when computing features."""
