"""Compiled TorchScript extensions that a Python package and an exported model's
``extensions/`` folder can both provide.

An exported SOAP-BPNN model ships a copy of sphericart's library in its extensions
folder. Loading that copy registers the ``sphericart_torch`` operations; importing
``sphericart.torch`` afterwards loads the installed library a second time, and torch
aborts the whole process ("Only a single TORCH_LIBRARY can be used to register the
namespace sphericart_torch"). In the other order nothing goes wrong: metatomic finds
the operations registered and does not load its copy. So the installed packages are
imported first, before any model is loaded from an extensions folder
(:func:`register_installed_extensions`), and code that needs such a package imports
it through :func:`import_extension_package`, which says what happened instead of
letting the process abort.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, Optional, Union

import torch

from ..errors import UserError

#: Python packages that register a TorchScript operator namespace when imported,
#: with that namespace, one of its operations and the file name of its library.
EXTENSION_PACKAGES: Dict[str, tuple[str, str, str]] = {
    "sphericart.torch": (
        "sphericart_torch",
        "spherical_harmonics",
        "libsphericart_torch.so",
    ),
}


def _registered_elsewhere(package: str) -> bool:
    """Whether the operations of ``package`` are registered while the package is
    not imported: a copy of its library was loaded from an extensions folder."""
    if package in sys.modules:
        return False
    namespace, operation, _ = EXTENSION_PACKAGES[package]
    return hasattr(getattr(torch.ops, namespace), operation)


def register_installed_extensions(
    folder: Optional[Union[str, Path]] = None,
) -> None:
    """Import each installed package of :data:`EXTENSION_PACKAGES` whose library is
    not loaded yet, so that models loaded later from an extensions folder use the
    installed library rather than loading their copy beside it. With ``folder``, only
    the packages whose library that folder holds a copy of: a folder without one
    leaves a model that needs it as unloadable as it is."""
    for package, (_, _, library) in EXTENSION_PACKAGES.items():
        if package in sys.modules or _registered_elsewhere(package):
            continue
        if folder is not None and not any(Path(folder).rglob(library)):
            continue
        try:
            importlib.import_module(package)
        except ImportError:
            continue


def import_extension_package(package: str) -> ModuleType:
    """``package`` imported; a :class:`UserError` rather than an aborted process when
    a copy of its library was loaded in this process from an exported model's
    extensions folder."""
    if _registered_elsewhere(package):
        namespace = EXTENSION_PACKAGES[package][0]
        raise UserError(
            f"the operations of '{package}' ({namespace}) were loaded in this "
            "process from an exported model's extensions folder, and importing "
            f"'{package}' now would load them a second time, which torch does not "
            f"survive; import {package} (or call atomtrain.utils.extensions."
            "register_installed_extensions()) before loading exported models, or "
            "train in a new process"
        )
    return importlib.import_module(package)
