"""``python -m atomtrain`` and the ``atomtrain`` console script."""

import sys


def main() -> int:
    """Run the command line with ``sys.argv`` and return its exit code."""
    from .cli.main import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
