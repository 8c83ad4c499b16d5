"""mace-torch and e3nn, imported without their side effects on the process.

Every module of this architecture takes mace-torch and e3nn from here:

- ``import mace`` sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` in the environment, so
  that any later ``torch.load`` not passing ``weights_only`` would unpickle whatever a
  file holds; the variable is put back as it was before the import;
- e3nn 0.4.4 reads its constants with ``torch.load`` at import, and since PyTorch 2.6
  that refuses the ``slice`` objects the file holds: they are allowed for that import
  (the constants file ships with e3nn);
- mace prints a line about cuEquivariance on standard output at import (atomtrain's
  output is for its own messages): it is dropped;
- building e3nn's modules warns about TorchScript annotations in e3nn's own code:
  :func:`quiet_construction` silences that warning alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from types import ModuleType
from typing import Any, ContextManager, Iterator, Tuple

import torch

_WEIGHTS_VARIABLE = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


def _e3nn_constants() -> ContextManager[Any]:
    """Allow the ``slice`` objects of e3nn's constants file (PyTorch before 2.6
    loads them without being asked, and has no ``safe_globals``)."""
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    return contextlib.nullcontext() if safe_globals is None else safe_globals([slice])


def _import() -> Tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    saved = os.environ.get(_WEIGHTS_VARIABLE)
    try:
        with _e3nn_constants(), contextlib.redirect_stdout(io.StringIO()):
            import e3nn.o3
            import e3nn.util.jit
            import mace.modules
            import mace.tools.scripts_utils
    finally:
        if saved is None:
            os.environ.pop(_WEIGHTS_VARIABLE, None)
        else:
            os.environ[_WEIGHTS_VARIABLE] = saved
    return mace.modules, mace.tools.scripts_utils, e3nn.o3, e3nn.util.jit


modules, scripts_utils, o3, jit = _import()


@contextlib.contextmanager
def quiet_construction() -> Iterator[None]:
    """Within the block, e3nn's warning about instance-level annotations (raised
    when its modules compile their own TorchScript code) is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="The TorchScript type system doesn't support instance-level",
            category=UserWarning,
        )
        yield
