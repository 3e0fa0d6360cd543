"""Offline symbolic proposer: searches scaling-law structures, emits programs.

Modules, one job each: ``space`` (the feature space), ``blocks`` (building blocks),
``expr`` (structures, canonical key, parameter count), ``model`` (a structure
made numeric), ``fit`` (variable-projection fitter, copied into programs),
``emit`` (program source, readable and LaTeX formulas), ``mutate`` (mutations
and crossover), ``identify`` (whether the fit rows pin a law down along each
scale feature), ``screen`` (pre-screening on the fit split), ``proposer``.
"""

from evosld.proposers.symbolic.expr import Factor, Law, Term
from evosld.proposers.symbolic.proposer import SymbolicProposer

__all__ = ["Factor", "Law", "SymbolicProposer", "Term"]
