"""The options file described for people and editors, generated from its grammar
(:mod:`atomtrain.options.grammar`, the one place that declares it):

- :mod:`.convert`: type annotations → JSON schema;
- :mod:`.options`: the JSON schema of the options file with every architecture's
  hypers (``atomtrain schema``);
- :mod:`.reference`: the Markdown options-file reference of the documentation.

Importing this package imports neither torch nor any architecture.
"""

from .options import options_schema, write_schema

__all__ = ["options_schema", "write_schema"]
