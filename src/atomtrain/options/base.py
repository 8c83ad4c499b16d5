"""Validation of the top level of the options file, and its expansion.

The keys, their types, defaults and meaning are declared in :mod:`.grammar` (class
:class:`~.grammar.OptionsFile`); this module checks a file against them, reporting
every problem at once, and fills the defaults in. A default that is not a constant is
computed here: ``base_precision`` is the architecture's preferred precision, and a
missing ``seed`` is drawn at random and written into the expanded options, so that the
run can be repeated. ``wandb`` (metatrain's spelling) moves to ``loggers.wandb``.

Dataset sections are expanded by :mod:`atomtrain.options.datasets`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..architectures.typeinfo import field_types, typed_defaults
from ..errors import OptionsError, Problem
from ..training.hypers import best_metric_problem
from . import datasets as dataset_sections
from .architecture import ArchitectureSupport, validate_architecture
from .devices import check_device, check_precision, normalize_device, parse_precision
from .files import unknown_keys
from .grammar import SEED_LIMIT, Loggers, OptionsFile
from .set_agreement import sets_agree
from .target_sections import metric_names
from .trainer_targets import trainer_target_problems

TOP_LEVEL_KEYS = tuple(field_types(OptionsFile))
LOGGER_KEYS = tuple(field_types(Loggers))
#: The constant defaults of the top level and of ``loggers``, from the grammar.
DEFAULTS = typed_defaults(OptionsFile)
LOGGER_DEFAULTS = typed_defaults(Loggers)


def validate_options(
    raw: Dict[str, Any], file: Optional[str], base_dir: Path
) -> Dict[str, Any]:
    """Validate the options and return them fully expanded.

    Defaults are filled in, the architecture's hypers merged over its defaults and
    dataset sections expanded (relative paths resolved against ``base_dir``). Every
    problem is collected and raised once as an :class:`OptionsError` naming ``file``.
    Nothing is written: create the run directory only after this returns.
    """
    if not isinstance(raw, dict):
        raise OptionsError([Problem("", "expected a mapping of options", raw)], file)
    problems = unknown_keys(raw, TOP_LEVEL_KEYS, "", noun="option")
    expanded: Dict[str, Any] = {}
    if "architecture" not in raw:
        problems.append(Problem("architecture", "required: the architecture to train"))
        support = None
    else:
        architecture, found, support = validate_architecture(raw["architecture"])
        expanded["architecture"] = architecture
        problems += found
    problems += _expand_device(raw, support, expanded)
    problems += _expand_precision(raw, support, expanded)
    problems += _expand_seed(raw, expanded)
    dataset_problems = _expand_datasets(raw, base_dir, expanded)
    problems += dataset_problems
    problems += _expand_loggers(raw, expanded)
    problems += _expand_flags(raw, expanded)
    problems += _check_best_model_metric(expanded)
    if not dataset_problems:
        # a target whose section has problems has no layout to check a loss with
        found = trainer_target_problems(expanded)
        problems += [p for p in found if not _reported(p, problems)]
    problems += sets_agree(expanded)
    if problems:
        raise OptionsError(problems, file)
    return expanded


def _check_best_model_metric(out: Dict[str, Any]) -> List[Problem]:
    """A ``best_model_metric`` that none of the training set's targets can give is
    refused here, before any run directory exists."""
    metric = ((out.get("architecture") or {}).get("training") or {}).get(
        "best_model_metric"
    )
    sections = out.get("training_set")
    if not isinstance(metric, str) or not isinstance(sections, list):
        return []
    problem = best_metric_problem(metric, metric_names(sections))
    return [] if problem is None else [problem]


def _reported(problem: Problem, problems: List[Problem]) -> bool:
    """Whether ``problem`` is at or below a key already reported (a loss that the
    validation of the hypers already refused)."""
    return any(
        problem.path == seen.path or problem.path.startswith(f"{seen.path}.")
        for seen in problems
    )


def _expand_device(
    raw: Dict[str, Any], support: Optional[ArchitectureSupport], out: Dict[str, Any]
) -> List[Problem]:
    device = raw.get("device", DEFAULTS["device"])
    problems = check_device(device)
    if problems:
        return problems
    device = out["device"] = normalize_device(device)
    if support is None:
        return []
    supported = {d.split(":")[0] for d in support.devices}
    names = device if isinstance(device, list) else [device]
    refused = [
        name
        for name in names
        if name not in ("auto", "gpu", "multi-gpu")
        and name.split(":")[0] not in supported
    ]
    if device in ("gpu", "multi-gpu") and not supported & {"cuda", "mps"}:
        refused.append(device)
    if refused:
        choices = ", ".join(support.devices)
        return [
            Problem("device", f"not supported by the architecture ({choices})", device)
        ]
    return []


def _expand_precision(
    raw: Dict[str, Any], support: Optional[ArchitectureSupport], out: Dict[str, Any]
) -> List[Problem]:
    if "base_precision" not in raw:
        if support is not None:
            out["base_precision"] = support.precisions[0]
        return []
    value = raw["base_precision"]
    problems = check_precision(value)
    if problems:
        return problems
    bits = parse_precision(value)
    out["base_precision"] = bits
    if support is not None and bits not in support.precisions:
        choices = ", ".join(str(p) for p in support.precisions)
        return [
            Problem(
                "base_precision",
                f"not supported by the architecture ({choices})",
                value,
            )
        ]
    return []


def _expand_seed(raw: Dict[str, Any], out: Dict[str, Any]) -> List[Problem]:
    seed = raw.get("seed")
    if seed is None:
        out["seed"] = secrets.randbelow(SEED_LIMIT)
        return []
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int)
        or not 0 <= seed < SEED_LIMIT
    ):
        return [Problem("seed", "expected an integer between 0 and 2**32 - 1", seed)]
    out["seed"] = seed
    return []


def _expand_datasets(
    raw: Dict[str, Any], base_dir: Path, out: Dict[str, Any]
) -> List[Problem]:
    problems: List[Problem] = []
    if raw.get("training_set") is None:
        problems.append(Problem("training_set", "required: the data to train on"))
    else:
        value, found = _expand_section(raw["training_set"], "training_set", base_dir)
        out["training_set"] = value
        problems += found
    for key in ("validation_set", "test_set"):
        value = raw.get(key, DEFAULTS[key])
        if _is_number(value):
            if not 0.0 <= value < 1.0:
                problems.append(
                    Problem(
                        key, "a fraction of the training set must be in [0, 1)", value
                    )
                )
            out[key] = value
        elif value is None or isinstance(value, bool):
            problems.append(
                Problem(
                    key, "expected a fraction of the training set or a dataset", value
                )
            )
        elif _is_quoted_fraction(value, base_dir):
            problems.append(
                Problem(
                    key,
                    f"a fraction of the training set is a number: write {key}: "
                    f"{value} without quotes (no file '{value}' exists)",
                    value,
                )
            )
        else:
            out[key], found = _expand_section(value, key, base_dir)
            problems += found
    return problems + _check_fraction_sum(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_quoted_fraction(value: Any, base_dir: Path) -> bool:
    """A string that reads as a number and names no file: a fraction written in
    quotes, which would otherwise be taken for a file name."""
    if not isinstance(value, str) or (base_dir / value).is_file():
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _check_fraction_sum(out: Dict[str, Any]) -> List[Problem]:
    validation: Any = out.get("validation_set")
    test: Any = out.get("test_set")
    if _is_number(validation) and _is_number(test) and validation + test >= 1.0:
        return [
            Problem(
                "test_set",
                f"validation_set ({validation}) and test_set ({test}) together take "
                "the whole training set; their sum must be below 1",
            )
        ]
    return []


def _expand_section(value: Any, path: str, base_dir: Path) -> Tuple[Any, List[Problem]]:
    expanded, problems = dataset_sections.expand_dataset_section(value, path, base_dir)
    return expanded, list(problems)


def _expand_loggers(raw: Dict[str, Any], out: Dict[str, Any]) -> List[Problem]:
    loggers = raw.get("loggers") or {}
    if not isinstance(loggers, dict):
        return [Problem("loggers", "expected a mapping (tensorboard, wandb)", loggers)]
    problems = unknown_keys(loggers, LOGGER_KEYS, "loggers", noun="logger")
    tensorboard = loggers.get("tensorboard", LOGGER_DEFAULTS["tensorboard"])
    if not isinstance(tensorboard, bool):
        problems.append(
            Problem("loggers.tensorboard", "expected true or false", tensorboard)
        )
    wandb, path = loggers.get("wandb"), "loggers.wandb"
    if raw.get("wandb") is not None:
        if wandb is not None:
            problems.append(
                Problem("wandb", "given twice: here and as loggers.wandb; keep one")
            )
        wandb, path = raw["wandb"], "wandb"
    if wandb is not None and not isinstance(wandb, dict):
        problems.append(
            Problem(path, "expected a mapping of wandb.init settings", wandb)
        )
    out["loggers"] = {"tensorboard": tensorboard, "wandb": wandb}
    return problems


def _expand_flags(raw: Dict[str, Any], out: Dict[str, Any]) -> List[Problem]:
    problems = []
    print_stats = raw.get("print_stats", DEFAULTS["print_stats"])
    if not (isinstance(print_stats, bool) or print_stats == "auto"):
        problems.append(
            Problem("print_stats", "expected true, false or auto", print_stats)
        )
    final_eval = raw.get("final_eval", DEFAULTS["final_eval"])
    if not isinstance(final_eval, bool):
        problems.append(Problem("final_eval", "expected true or false", final_eval))
    out["print_stats"] = print_stats
    out["final_eval"] = final_eval
    return problems
