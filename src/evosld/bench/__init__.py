"""Benchmarks over the built-in tasks.

- ``runs.py``: ``run_bench``, the composition of the four below;
- ``spec.py``: what a bench runs (tasks × seeds, limits) and each run's state on disk;
- ``discoveries.py``: one ``evosld discover`` subprocess per run (resumed when unfinished);
- ``humanlaws.py``: the human laws' scores, refit once per task and cached;
- ``leaderboard.py``: the leaderboard built from the run stores, and the published SLDBench figures;
- ``rankcheck.py``: does validation rank a run's best laws as test does;
- ``timetoquality.py``: how soon a run's pick reaches a quality;
- ``cli.py``: ``evosld bench``.

Nothing is imported here; import the module you need.
"""
