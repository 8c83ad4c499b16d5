"""Architectures as plugins: find them, read their hypers, document them.

- :mod:`.discovery`: names → modules, listing without importing, contract checks;
- :mod:`.hypers`: defaults from ``documentation.py``, merging and validation;
- :mod:`.docsource`: what ``documentation.py`` declares (types, defaults, docstrings);
- :mod:`.docpage`: the Markdown documentation page of an architecture.

Importing this package imports neither torch nor pydantic.
"""

from .discovery import (
    ENTRY_POINT_GROUP,
    ArchitectureEntry,
    DeprecatedArchitectureWarning,
    InvalidArchitectureError,
    MissingDependencyError,
    UnknownArchitectureError,
    find_architecture,
    import_architecture,
    list_architectures,
)
from .docpage import render_page, write_pages
from .docsource import ArchitectureDoc, HyperEntry, read_architecture_doc
from .hypers import (
    UncheckedHypersWarning,
    get_defaults,
    merge_hypers,
    validate_hypers,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ArchitectureDoc",
    "ArchitectureEntry",
    "DeprecatedArchitectureWarning",
    "HyperEntry",
    "InvalidArchitectureError",
    "MissingDependencyError",
    "UncheckedHypersWarning",
    "UnknownArchitectureError",
    "find_architecture",
    "get_defaults",
    "import_architecture",
    "list_architectures",
    "merge_hypers",
    "read_architecture_doc",
    "render_page",
    "validate_hypers",
    "write_pages",
]
