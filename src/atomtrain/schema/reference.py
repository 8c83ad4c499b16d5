"""The options-file reference page (Markdown), generated from the declared grammar
(:mod:`atomtrain.options.grammar`) and the shared trainer hypers, with the tables of
architecture pages.
"""

from __future__ import annotations

from typing import Dict, List

from atomtrain.architectures.docpage import hypers_table
from atomtrain.architectures.docsource import (
    HyperEntry,
    definition_entries,
    typed_entries,
)
from atomtrain.options.grammar import OptionsFile
from atomtrain.training.hypers import BaseTrainerHypers

_INTRO = """\
# Options file reference

An options file is YAML; `atomtrain train options.yaml` validates it completely before
anything runs, reporting every problem at once with its dotted key. The grammar is
metatrain's, so a metatrain options file works once the architecture name is one that
`atomtrain doc` lists. The smallest options file is

```yaml
architecture:
  name: pet
training_set: data.xyz
```

Every key not given takes its default; the fully expanded options are written to
`options_restart.yaml` in the run directory, so that a run can be repeated exactly.
Any key can be changed from the command line without editing the file:
`atomtrain train options.yaml -r architecture.training.num_epochs=10 -r seed=1`
(the value is read as YAML).

Editors can complete and check options files with the JSON schema written by
`atomtrain schema -o options.schema.json` (see the command-line reference): with the
YAML language server, start the options file with
`# yaml-language-server: $schema=options.schema.json`.

The tables below give each key with its type, its default and what it means. Keys of
nested mappings are written with dots: `loggers.tensorboard` is `tensorboard` inside
`loggers`.
"""

_DATASETS = """\
## Dataset sections

`training_set`, `validation_set` and `test_set` take a file name (its `energy` is
read, with forces and stress when the file has them), a dataset section, or a list of
sections whose structures are joined. For example

```yaml
training_set:
  systems:
    read_from: carbon.xyz
    length_unit: angstrom
  targets:
    energy:
      key: energy
      unit: eV
      forces: {key: force}
      virial: on
    mtt::dipole:
      key: dipole
      type: {cartesian: {rank: 1}}
      unit: e*angstrom
```

The mappings used in these sections have the following keys.
"""

_TRAINER = """\
## Shared trainer hyperparameters

Every architecture trained by atomtrain's engine accepts these keys in
`architecture.training`, with these defaults unless its own page gives others.
"""


def _tables(definitions: Dict[str, List[HyperEntry]], level: str) -> List[str]:
    parts = []
    for name, entries in definitions.items():
        parts.append(f"{level} {name}\n")
        parts.append(hypers_table(entries, name))
    return parts


def render_options_reference() -> str:
    """The Markdown page documenting every key of the options file."""
    sections = [
        _INTRO,
        "## Top level\n",
        hypers_table(typed_entries(OptionsFile), "top-level"),
        _DATASETS,
        *_tables(definition_entries([OptionsFile]), "###"),
        _TRAINER,
        hypers_table(typed_entries(BaseTrainerHypers), "trainer"),
        "The per-target entries of `loss` (see the losses page) have these keys.\n",
        *_tables(definition_entries([BaseTrainerHypers]), "###"),
    ]
    return "\n".join(sections)
