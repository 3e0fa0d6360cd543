"""Predictions of a found law at inputs the user names: the reason a scaling law is fitted.

``law`` fits a law on its task's train rows and predicts new inputs (sandboxed,
per group) and says how far each input lies outside the runs it was fitted on;
``inputs`` reads those inputs from ``--at N=7e10,D=1.4e12`` or a table; ``cli``
is ``evosld predict``. ``evosld.api.DiscoveryResult.predict`` uses the same code.
"""

from evosld.predict.law import outside_train, predict_law

__all__ = ["outside_train", "predict_law"]
