"""Benchmarks over the built-in tasks.

- ``runs.py``: the bench spec, its ``evosld discover`` runs (resumed when unfinished), the human-law
  scores and the leaderboard built from the run stores;
- ``leaderboard.py``: the published SLDBench figures;
- ``rankcheck.py``: does validation rank a run's best laws as test does;
- ``timetoquality.py``: how soon a run's pick reaches a quality;
- ``cli.py``: ``evosld bench``.

Nothing is imported here; import the module you need.
"""
