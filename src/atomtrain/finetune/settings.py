"""The ``architecture.training.finetune`` section, checked and completed.

``{method: full | heads | lora, read_from: <checkpoint>, config: {...},
inherit_heads: {new_target: old_target}, trust_pickled_code: false}``, declared with
its defaults by :class:`~atomtrain.training.hypers.FinetuneHypers`. ``config`` holds
the options of the method: ``lora`` takes those of
:class:`~atomtrain.training.hypers.LoraHypers` (``rank``, ``alpha``: adapters are
scaled by ``alpha / rank``, ``target_modules``: names of ``torch.nn.Linear`` modules,
matched on the full dotted name or its last parts); ``full`` and ``heads`` take none.
``trust_pickled_code`` allows ``read_from`` to be another code's pickled model file
(see :mod:`.prepare`). Anything that cannot be honoured is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Tuple

from ..errors import OptionsError, Problem, did_you_mean
from ..training.hypers import FinetuneHypers, LoraHypers, declared_defaults

#: Where users write the section, for error messages.
OPTION = "architecture.training.finetune"

Method = Literal["full", "heads", "lora"]
METHODS: Tuple[str, ...] = ("full", "heads", "lora")
#: The keys of the ``config`` of ``method: lora``.
LORA_KEYS: Tuple[str, ...] = tuple(LoraHypers.__annotations__)


@dataclass(frozen=True)
class LoraSettings:
    """Low-rank adapters: ``W x + (alpha / rank) B A x`` with ``A [rank, in]``,
    ``B [out, rank]`` (``B`` starts at zero)."""

    rank: int
    alpha: float
    target_modules: Tuple[str, ...]


@dataclass(frozen=True)
class FinetuneSettings:
    """A fine-tuning request: method, pretrained checkpoint, method options and the
    heads to initialise from old ones."""

    method: Method
    read_from: Path
    lora: Optional[LoraSettings]
    inherit_heads: Dict[str, str]
    trust_pickled_code: bool


def finetune_settings(training: Dict[str, Any]) -> Optional[FinetuneSettings]:
    """The fine-tuning settings of the ``training`` hypers, or None when the run does
    not fine-tune. Raises an :class:`OptionsError` listing every problem."""
    if training.get("finetune") is None:
        return None
    # the validated options hold every default; the hypers stored in checkpoints
    # of earlier versions may not
    section = {**declared_defaults(FinetuneHypers), **training["finetune"]}
    problems: List[Problem] = []
    method = section["method"]
    if method not in METHODS:
        problems.append(
            Problem(
                f"{OPTION}.method",
                f"expected one of {', '.join(METHODS)}"
                + did_you_mean(str(method), METHODS),
                method,
            )
        )
    read_from = section.get("read_from")
    if not isinstance(read_from, str) or not read_from:
        problems.append(
            Problem(
                f"{OPTION}.read_from", "expected the path of a checkpoint", read_from
            )
        )
    config = section.get("config") or {}
    lora: Optional[LoraSettings] = None
    if method == "lora":
        lora = _lora(config, problems)
    elif config:
        problems.append(
            Problem(
                f"{OPTION}.config",
                f"the method '{method}' takes no options (only 'lora' does)",
                config,
            )
        )
    inherit = dict(section.get("inherit_heads") or {})
    for new, old in inherit.items():
        if not isinstance(old, str) or not isinstance(new, str):
            problems.append(
                Problem(f"{OPTION}.inherit_heads.{new}", "expected a target name", old)
            )
    trust = section["trust_pickled_code"]
    if not isinstance(trust, bool):
        problems.append(
            Problem(f"{OPTION}.trust_pickled_code", "expected true or false", trust)
        )
    if problems:
        raise OptionsError(problems)
    return FinetuneSettings(
        method, Path(str(read_from)), lora, inherit, trust_pickled_code=trust
    )


def _lora(config: Dict[str, Any], problems: List[Problem]) -> LoraSettings:
    """The LoRA options of ``config``, problems appended."""
    where = f"{OPTION}.config"
    for key in config:
        if key not in LORA_KEYS:
            problems.append(
                Problem(
                    f"{where}.{key}",
                    "unknown LoRA option; expected one of "
                    + ", ".join(LORA_KEYS)
                    + did_you_mean(str(key), LORA_KEYS),
                )
            )
    values = {**declared_defaults(LoraHypers), **config}
    rank, alpha, modules = values["rank"], values["alpha"], values["target_modules"]
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        problems.append(Problem(f"{where}.rank", "expected an integer >= 1", rank))
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
        problems.append(Problem(f"{where}.alpha", "expected a positive number", alpha))
    if isinstance(modules, str):
        modules = [modules]
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        problems.append(
            Problem(
                f"{where}.target_modules",
                "expected a list of module names (e.g. [network.0, network.2])",
                modules,
            )
        )
        modules = []
    return LoraSettings(int(rank), float(alpha), tuple(modules))
