"""Exported model files against the checkpoint they come from.

After training through the command line, the exported ``model.pt`` (and the files
``atomtrain export`` writes from ``model.ckpt``) must predict what the checkpoint's
model predicts when loaded for export: the same weights (the best ones, EMA if used),
the same composition baseline, the same outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import torch
from metatomic.torch import ModelEvaluationOptions, load_atomistic_model

from ..architectures.checkpoints import load_model
from ..data.structure import Structure
from .probe import Probe, fail
from .systems import cluster, crystal, exported_systems


def comparison_structures(atomic_types: List[int]) -> List[Structure]:
    """A cluster and a periodic cell of the model's atomic types."""
    return [cluster(atomic_types, 5, seed=21), crystal(atomic_types, 4, seed=22)]


def check_export_matches_checkpoint(exported: Path, checkpoint: Path) -> Any:
    """``exported`` predicts every target of ``checkpoint`` as the model loaded
    from it for export does (outputs in the exported model's dtype and in the
    model's units); the exported model, loaded.

    The checkpoint's model is built first: that loads the compiled extensions the
    exported model needs (e.g. sphericart's), which are then not loaded a second
    time from an ``extensions/`` folder (their operations would be registered
    twice)."""
    model = load_model(checkpoint, context="export").eval()
    targets = dict(model.dataset_info.targets)
    structures = comparison_structures(list(model.dataset_info.atomic_types))
    loaded = load_atomistic_model(str(exported))
    capabilities = loaded.capabilities()
    dtype = getattr(torch, capabilities.dtype)
    expected = Probe(model, targets, dtype=dtype).run(structures)
    systems = exported_systems(structures, loaded, dtype)
    evaluation = ModelEvaluationOptions(
        length_unit="angstrom",
        outputs={name: capabilities.outputs[name] for name in targets},
    )
    got = loaded(systems, evaluation, check_consistency=True)
    for name in targets:
        for key in range(len(expected[name])):
            want = expected[name].block(key).values.detach().to(torch.float64)
            have = got[name].block(key).values.detach().to(torch.float64)
            if have.shape != want.shape or not torch.allclose(
                have, want, rtol=1e-8, atol=1e-10
            ):
                raise fail(
                    f"{exported.name} predicts '{name}' {have.flatten()[:4].tolist()}"
                    f"..., the model of {checkpoint.name} loaded for export "
                    f"{want.flatten()[:4].tolist()}...",
                    "export the weights the checkpoint gives for 'export' (the best "
                    "ones, EMA if used: atomtrain.checkpoints.model_weights) with "
                    "everything forward adds (the composition baseline switched on); "
                    "the engine loads the best weights into the model at the end of "
                    "training, and export() must not change them",
                )
    return loaded
