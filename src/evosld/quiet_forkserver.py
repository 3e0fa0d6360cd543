"""Imported first by the sandbox's forkserver: it ignores Ctrl-C from its first moment.

A terminal's Ctrl-C goes to the command's whole process group, the
sandbox's forkserver included. multiprocessing has the forkserver ignore
SIGINT only after its preload (numpy and scipy, about a second), so a Ctrl-C
in that second printed a KeyboardInterrupt traceback from inside it, under
the command's own "interrupted" line. As the forkserver's first preload this
module ignores SIGINT before the heavy imports; the forkserver hands that
disposition to every child it forks, and the command stops them itself (a
stop kills the sandboxes in flight). It imports nothing else of evosld: the
package's ``__init__`` is light.
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
