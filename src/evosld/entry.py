"""The ``evosld`` command's entry point: loads the command line, a stop while it loads included.

Loading the command line imports numpy, pandas and scipy (about a second); a
Ctrl-C in that second ended in a Python traceback, and SIGTERM (a cluster's
scheduler, ``kill``) ended any command but a running discovery without a
word. Here SIGTERM is raised as :class:`evosld.signals.Interrupted`, as
Python raises KeyboardInterrupt for SIGINT; ``evosld.cli.main`` turns either
into one line and exit code 130 / 143, and a discovery's own handlers
(``signals.catch_stop_signals``) take over while it runs.
"""

from __future__ import annotations

import signal
import sys

from evosld.signals import (
    STOP_SIGNALS,
    exit_code_for,
    exit_on_next_stop,
    raise_interrupted,
    stop_line,
)

#: Exit codes of a command ended by SIGINT or SIGTERM.
STOPPED = frozenset(exit_code_for(s) for s in STOP_SIGNALS)


def main() -> int:
    """Load ``evosld.cli`` and run it; 130 / 143 when SIGINT / SIGTERM arrives while it loads.

    ``evosld.cli.main`` turns every stop during a command into its own message
    and exit code; a KeyboardInterrupt that reaches this far came while the
    modules or the argument parser loaded, before any work.
    """
    signal.signal(signal.SIGTERM, raise_interrupted)
    try:
        from evosld.cli import main as cli_main

        code = cli_main()
    except KeyboardInterrupt as exc:
        line, code = stop_line(exc)
        print(line, file=sys.stderr)
    if code in STOPPED:  # the process ends now; a further signal while Python exits ends it at once, quietly
        exit_on_next_stop(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
