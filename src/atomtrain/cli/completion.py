"""``atomtrain completion bash|zsh``: print a shell completion script.

The script is generated from the argument parsers of every subcommand, so it
completes the subcommands, their options, files of the expected kind (options files
``*.yaml``, exported models ``*.pt``, checkpoints ``*.ckpt``, directories for
``--extensions``) and architecture names, which it asks from
``atomtrain completion --architectures`` each time: that lists the installed
architectures without importing torch or any model. Enable it with::

    source <(atomtrain completion bash)     # in ~/.bashrc
    source <(atomtrain completion zsh)      # in ~/.zshrc
"""

from __future__ import annotations

import argparse
from typing import Dict, List, Tuple

HELP = "print a bash or zsh completion script for atomtrain"

SHELLS = ("bash", "zsh")

#: What a positional argument holds, by its name: a glob of files, or a word list.
POSITIONAL_KINDS = {
    "options": "yaml",
    "model": "pt",
    "checkpoint": "ckpt",
    "name": "architectures",
}
#: Options whose value is a directory; the other options taking a path are files.
DIRECTORY_DESTS = ("extensions", "outputs")
FILE_DESTS = ("output", "plot", "metadata", "restart")
_GLOBS = {"yaml": "*.@(yaml|yml)", "pt": "*.pt", "ckpt": "*.ckpt"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", nargs="?", choices=SHELLS, help="the shell")
    parser.add_argument(
        "--architectures",
        action="store_true",
        help=argparse.SUPPRESS,  # used by the script itself
    )


def run(args: argparse.Namespace) -> int:
    from atomtrain.errors import UserError

    if args.architectures:
        from atomtrain.architectures.discovery import list_architectures

        for entry in list_architectures():
            print(entry.name)
        return 0
    if args.shell is None:
        raise UserError("give the shell: 'atomtrain completion bash' or '... zsh'")
    print(script(args.shell), end="")
    return 0


def _subparser(name: str) -> argparse.ArgumentParser:
    from .main import build_parser

    parser = build_parser(name)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise LookupError(name)


def _value_kind(action: argparse.Action) -> str:
    """How to complete the value of an option: ``dir``, ``file``, ``words:...``,
    or ``none``."""
    if action.choices is not None:
        return "words:" + " ".join(str(choice) for choice in action.choices)
    if action.dest in DIRECTORY_DESTS or action.metavar == "DIR":
        return "dir"
    if action.dest in FILE_DESTS or action.metavar in ("FILE", "PATH"):
        return "file"
    return "none"


def _positional_kind(action: argparse.Action) -> str:
    if action.choices is not None:
        return "words:" + " ".join(str(choice) for choice in action.choices)
    return POSITIONAL_KINDS.get(action.dest, "file")


def command_spec(name: str) -> Tuple[List[str], Dict[str, str], List[str]]:
    """The options of subcommand ``name``, how to complete the value of each option
    that takes one, and how to complete each positional argument in order (the last
    one repeats when it takes several values)."""
    options: List[str] = []
    values: Dict[str, str] = {}
    positionals: List[str] = []
    for action in _subparser(name)._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if not action.option_strings:
            positionals.append(_positional_kind(action))
            continue
        options.extend(action.option_strings)
        if action.nargs != 0:
            for option in action.option_strings:
                values[option] = _value_kind(action)
    return options, values, positionals


def _complete_kind(kind: str, indent: str) -> str:
    """Bash lines filling COMPREPLY for a kind of value."""
    if kind == "none":
        return f"{indent}return"
    if kind == "dir":
        return f"{indent}_atomtrain_files -d"
    if kind == "file":
        return f"{indent}_atomtrain_files -f"
    if kind == "architectures":
        return (
            f'{indent}COMPREPLY=($(compgen -W "$(atomtrain completion --architectures '
            f'2>/dev/null)" -- "$cur"))'
        )
    if kind.startswith("words:"):
        return f'{indent}COMPREPLY=($(compgen -W "{kind[6:]}" -- "$cur"))'
    return f"{indent}_atomtrain_files -f '{_GLOBS[kind]}'"


def _command_case(name: str) -> str:
    options, values, positionals = command_spec(name)
    lines = [f"        {name})"]
    if values:
        lines.append('            case "$prev" in')
        by_kind: Dict[str, List[str]] = {}
        for option, kind in values.items():
            by_kind.setdefault(kind, []).append(option)
        for kind, names in by_kind.items():
            lines.append(f"                {'|'.join(names)})")
            lines.append(_complete_kind(kind, " " * 20))
            lines.append("                    return;;")
        lines.append("            esac")
    lines.append('            if [[ "$cur" == -* ]]; then')
    lines.append(
        f'                COMPREPLY=($(compgen -W "{" ".join(options)}" -- "$cur"))'
    )
    lines.append("                return")
    lines.append("            fi")
    takes_value = " ".join(values)
    lines.append(f'            _atomtrain_position "$start" "{takes_value}"')
    for index, kind in enumerate(positionals):
        test = ">=" if index == len(positionals) - 1 else "=="
        lines.append(f"            if (( position {test} {index} )); then")
        lines.append(_complete_kind(kind, " " * 16))
        lines.append("                return")
        lines.append("            fi")
    lines.append("            ;;")
    return "\n".join(lines)


_BASH_HEAD = r"""# bash completion for atomtrain, from 'atomtrain completion bash'
_atomtrain_files() {
    # $1: -f (files, optionally matching the glob $2) or -d (directories)
    local IFS=$'\n'
    if [[ "$1" == -d ]]; then
        COMPREPLY=($(compgen -d -- "$cur"))
    elif [[ -n "$2" ]]; then
        COMPREPLY=($(shopt -s extglob; compgen -f -X "!$2" -- "$cur"
                     compgen -d -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    if type compopt &>/dev/null; then compopt -o filenames 2>/dev/null; fi
}

_atomtrain_position() {
    # the index of the positional argument under the cursor, after the subcommand
    # at $1; $2: the options that take a value
    local i word skip=0
    position=0
    for (( i = $1 + 1; i < COMP_CWORD; i++ )); do
        word="${COMP_WORDS[i]}"
        if (( skip )); then skip=0; continue; fi
        case "$word" in
            -*=*) ;;
            -*) [[ " $2 " == *" $word "* ]] && skip=1 ;;
            *) (( position++ )) ;;
        esac
    done
}

_atomtrain() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local command="" start=0 position=0 i
    COMPREPLY=()
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) command="${COMP_WORDS[i]}"; start=$i; break ;;
        esac
    done
    case "$command" in
        "")
            COMPREPLY=($(compgen -W "@COMMANDS@ --help --version --debug" -- "$cur"))
            ;;
"""

_BASH_TAIL = """    esac
}
complete -F _atomtrain atomtrain
"""

_ZSH_HEAD = """# zsh completion for atomtrain, generated by 'atomtrain completion zsh':
# zsh runs the bash completion through its bashcompinit layer
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
"""


def bash_script() -> str:
    """The bash completion script."""
    from .main import COMMANDS

    head = _BASH_HEAD.replace("@COMMANDS@", " ".join(COMMANDS))
    cases = "\n".join(_command_case(name) for name in COMMANDS)
    return head + cases + "\n" + _BASH_TAIL


def script(shell: str) -> str:
    """The completion script for ``shell`` (``bash`` or ``zsh``)."""
    if shell == "bash":
        return bash_script()
    if shell == "zsh":
        return _ZSH_HEAD + bash_script()
    raise ValueError(f"no completion for the shell {shell!r}; expected bash or zsh")
