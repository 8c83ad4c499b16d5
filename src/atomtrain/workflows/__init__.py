"""The library functions behind the commands: train, export, eval.

Each command-line subcommand parses its arguments and calls one function here.
"""
