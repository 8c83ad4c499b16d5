"""Reading an options file and applying ``-r key.sub=value`` overrides.

Only this module reads the options file; everything downstream works on plain dicts.
An override's value is parsed as YAML (PyYAML's safe loader), exactly as if it were
written in the file: ``5`` is an integer, ``1e-3`` a float, ``[1, 2]`` a list,
``{a: 1}`` a mapping, ``null`` is ``None``, and (PyYAML follows YAML 1.1)
``on``/``off``/``yes``/``no`` are booleans, which is what makes the ``forces: on``
shorthand work from the command line too. Quote a value to keep it a string:
``-r "device='cuda'"``.

One departure from YAML 1.1, in the file and in overrides alike: numbers in
scientific notation without a dot (``1e-3``) are floats, as in YAML 1.2 and in
metatrain's options files, rather than strings.

A key given twice in one mapping is refused, naming its dotted path and both lines:
YAML itself keeps the last value and drops the first without a word.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import yaml

from ..errors import OptionsError, Problem, UserError


class OptionsLoader(yaml.SafeLoader):
    """PyYAML's safe loader that also reads ``1e-3`` as a float."""


#: Scientific notation without a dot, which YAML 1.1 leaves as a string.
_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
OptionsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _FLOAT, list("-+0123456789")
)


#: The tag YAML gives to ``<<``, the merge key, which may legitimately repeat.
_MERGE_TAG = "tag:yaml.org,2002:merge"


def parse_yaml(text: str, source: Optional[str] = None) -> Any:
    """``text`` parsed as YAML with :class:`OptionsLoader`.

    A key given twice in a mapping is an :class:`OptionsError` naming ``source`` (the
    file), the dotted key and the lines of both; YAML syntax errors are
    :class:`yaml.YAMLError` as from :func:`yaml.load`.
    """
    loader = OptionsLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problems = duplicate_keys(node)
        if problems:
            raise OptionsError(problems, source)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def duplicate_keys(
    node: yaml.Node, path: str = "", seen: Optional[Set[int]] = None
) -> List[Problem]:
    """A problem for every key given twice in a mapping of the composed ``node``
    (found at the dotted ``path``), with the lines (1-based) of both."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias of a node already walked
        return []
    seen.add(id(node))
    problems: List[Problem] = []
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += duplicate_keys(item, f"{path}[{index}]", seen)
    if not isinstance(node, yaml.MappingNode):
        return problems
    lines: Dict[str, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
            continue
        key = str(key_node.value)
        where = f"{path}.{key}" if path else key
        line = key_node.start_mark.line + 1
        if key in lines:
            problems.append(
                Problem(
                    where,
                    f"given twice, at lines {lines[key]} and {line}; YAML would keep "
                    "the last value and drop the first silently: remove one",
                )
            )
        lines.setdefault(key, line)
        problems += duplicate_keys(value_node, where, seen)
    return problems


class OptionsFileError(UserError):
    """The options file cannot be read or is not a YAML mapping."""


def read_options_file(path: Path) -> Dict[str, Any]:
    """The top-level mapping of the YAML file at ``path``.

    Raises :class:`OptionsFileError` naming the file (and the line and column of a YAML
    syntax error) when the file is missing, unreadable, empty or not a mapping.
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise OptionsFileError(f"options file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise OptionsFileError(f"cannot read options file '{path}': {error}") from None
    try:
        content = parse_yaml(text, str(path))
    except yaml.YAMLError as error:
        raise OptionsFileError(_describe_yaml_error(path, error)) from None
    if content is None:
        raise OptionsFileError(f"options file '{path}' is empty")
    if not isinstance(content, dict):
        raise OptionsFileError(
            f"options file '{path}' must hold a mapping of keys (architecture, "
            f"training_set, ...) at the top level, not a {_yaml_type(content)}"
        )
    return content


def _describe_yaml_error(path: Path, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return f"invalid YAML in options file '{path}'{where}: {detail}"


def _yaml_type(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def parse_override(override: str) -> Tuple[List[str], Any]:
    """Split ``"a.b.c=value"`` into ``(["a", "b", "c"], parsed value)``.

    Raises :class:`ValueError` with a readable message for a malformed override.
    """
    key, separator, text = override.partition("=")
    key = key.strip()
    if not separator or not key:
        raise ValueError("expected 'key.sub=value'")
    parts = key.split(".")
    if any(not part for part in parts):
        raise ValueError(f"empty component in the key '{key}'")
    try:
        value = parse_yaml(text) if text.strip() else None
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error)
        raise ValueError(f"the value is not valid YAML: {problem}") from None
    except OptionsError as error:
        raise ValueError("; ".join(str(p) for p in error.problems)) from None
    return parts, value


def apply_overrides(
    options: Dict[str, Any], overrides: Sequence[str], file: str | None = None
) -> Dict[str, Any]:
    """A copy of ``options`` with each ``key.sub=value`` override applied in order.

    Missing intermediate mappings are created, so an override can add a section. An
    override whose path goes through a value that is not a mapping, or that is
    malformed, is a :class:`Problem`; all of them are raised at once as an
    :class:`OptionsError`.
    """
    result = copy.deepcopy(options)
    problems: List[Problem] = []
    for override in overrides:
        try:
            parts, value = parse_override(override)
        except ValueError as error:
            problems.append(Problem(f"-r {override}", str(error)))
            continue
        problem = _set_path(result, parts, value)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise OptionsError(problems, file)
    return result


def _set_path(options: Dict[str, Any], parts: List[str], value: Any) -> Problem | None:
    section = options
    for depth, part in enumerate(parts[:-1]):
        child = section.get(part)
        if child is None:
            child = section[part] = {}
        if not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            full = ".".join(parts)
            return Problem(
                prefix,
                f"cannot override '{full}': '{prefix}' is a "
                f"{_yaml_type(child)}, not a mapping",
                child,
            )
        section = child
    section[parts[-1]] = value
    return None


def load_options(
    path: str | Path, overrides: Sequence[str] = ()
) -> Tuple[Dict[str, Any], str]:
    """Read the options file and apply the command-line overrides.

    Returns the raw (not yet validated) options and the file name to use in messages.
    """
    file = str(path)
    raw = read_options_file(Path(path))
    return apply_overrides(raw, overrides, file), file
