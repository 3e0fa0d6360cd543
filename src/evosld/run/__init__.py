"""One run: its front door (``plan``), composition root (``runner``), store (``store/``), output files
(``outputs``), lock (``runlock``), summary of a finished run (``summary``) and law (``rundir``).

Nothing is imported here, so a lower layer may import ``evosld.run.store`` without pulling in the runner.
"""
