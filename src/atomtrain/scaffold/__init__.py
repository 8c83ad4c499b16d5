"""``atomtrain new-architecture``: the files of a working minimal architecture.

:func:`write_architecture` writes the four files of the plugin contract, a test module
running the conformance suite (:mod:`atomtrain.testing`) and the golden checkpoint of
version 1, either in-tree under ``src/atomtrain/experimental/<name>/`` or as an external
package with its own ``pyproject.toml`` and an ``atomtrain.architectures`` entry point.
"""

from .writer import Scaffold, ScaffoldError, write_architecture

__all__ = ["Scaffold", "ScaffoldError", "write_architecture"]
