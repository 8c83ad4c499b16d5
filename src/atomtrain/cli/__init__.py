"""The ``atomtrain`` command line: one small module per subcommand.

Each subcommand module ``atomtrain.cli.<name>`` defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``, and imports torch and other heavy
libraries only inside ``run``. :mod:`atomtrain.cli.main` lists the subcommands.
"""
