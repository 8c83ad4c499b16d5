"""The ``atomtrain`` command line: one small module per subcommand.

Each subcommand module ``atomtrain.cli.<name>`` defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``, and imports torch and other heavy
libraries only inside ``run``. :mod:`atomtrain.cli.main` lists the subcommands.
"""

from ..errors import UserError


class NotBuiltError(UserError):
    """A subcommand that this version of atomtrain does not provide yet."""

    def __init__(self, command: str) -> None:
        super().__init__(
            f"'atomtrain {command}' is not built yet in atomtrain; it will arrive in a "
            "later version"
        )
        self.command = command
