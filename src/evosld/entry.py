"""The ``evosld`` command's entry point: loads the command line, a Ctrl-C while it loads included.

Loading the command line imports numpy, pandas and scipy (about a second); a
Ctrl-C or SIGTERM in that second would otherwise end in a Python traceback.
``evosld.cli.main`` handles every stop after that.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Load ``evosld.cli`` and run it; 130 (interrupted) when a Ctrl-C arrives while it loads.

    ``evosld.cli.main`` turns every stop during a command into its own message
    and exit code; a KeyboardInterrupt that reaches this far came while the
    modules or the argument parser loaded, before any work.
    """
    try:
        from evosld.cli import main as cli_main

        return cli_main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
