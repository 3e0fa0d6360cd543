"""The offline symbolic proposer: mutates law structures and emits programs.

``SymbolicProposer(task, seed)`` reads a task's *search view* (never test rows).
Each ``propose`` call mutates the parent's structure (parsed back from the
parent's ``meta["structure"]`` when this proposer wrote it; otherwise it starts
from a random small law), sometimes crossed with an inspiration, draws a few
novel candidates (a structure key already proposed is never proposed again, nor
is a law with as many free parameters along a scale feature as the fit rows
have distinct values of it: ``identify.py``), pre-screens them on the fit split
(``screen.py``) and emits the best as a self-contained program (``emit.py``).
Its random state is seeded from the constructor seed and each request's seed,
so equal runs propose equal programs.

What it learns while proposing (structures proposed, the screened backlog, the
best screen score, the call count) is kept as a journal: ``journal()`` hands
over the records written since its last call (the loop stores them with the
generation they belong to) and ``replay(records)`` rebuilds that state in a
fresh proposer, so a resumed run proposes what an unbroken one would.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations
from typing import Any

import numpy as np

from evosld.proposers.base import EXHAUSTED, ParentInfo, Proposal, ProposalRequest
from evosld.proposers.symbolic.emit import formula_latex, formula_text, param_names, program_source
from evosld.proposers.symbolic.expr import Factor, Law, Term
from evosld.proposers.symbolic.identify import identifiable, tie_pairs
from evosld.proposers.symbolic.mutate import crossover, feats_of, mutate, random_law, valid
from evosld.proposers.symbolic.screen import Screen, fold_splits
from evosld.proposers.symbolic.space import Space

#: Besides being shortened from the end, a starting structure that is not valid here may lose up to this many of
#: its terms wherever they are (``SymbolicProposer._valid_parts``).
SEED_DROP = 2

NAME = "symbolic"


class SymbolicProposer:
    """Offline expression search over scaling-law structures.

    Args:
        task: the task's search view (``Task.search_view()``); test rows unused.
        seed: seed of the proposer's own random state.
        max_params: limit on fitted parameters in all (summed over outputs);
            defaults to ``task.max_params``.
        n_candidates: mutations pre-screened per proposal (1 = no screening).
    """

    name = NAME

    def __init__(self, task, seed: int = 0, max_params: int | None = None, n_candidates: int = 5) -> None:
        self.task = task
        self.seed = int(seed)
        self.n_outputs = len(task.targets)
        total = max_params if max_params is not None else task.max_params
        self.max_params = None if total is None else max(1, int(total) // self.n_outputs)
        fit, val = task.split_arrays("val")
        X_all = task.train[list(task.features)].to_numpy(dtype=float)
        self.space = Space.from_data(X_all, task.features, task.log_features).with_extrapolation(
            task.fit_df[list(task.features)].to_numpy(dtype=float),
            task.val_df[list(task.features)].to_numpy(dtype=float),
        ).with_optima([(d.X, d.y) for d in fit.values()]).with_levels([d.X for d in fit.values()], rtol=task.scale_rtol)
        if task.val_rule.startswith("random:") and task.test_beyond:
            # validation drawn at random shows no direction (or a chance one); the test rule's says where the law
            # must reach (three model sizes, the largest as test), and in which direction: no bowl may curve along it
            beyond = {task.features.index(f) for f in task.test_beyond if f in task.features}
            down = {task.features.index(f) for f in task.test_below if f in task.features}
            self.space = replace(self.space, extrapolated=tuple(sorted(set(self.space.extrapolated) | beyond)),
                                 below=tuple(sorted((set(self.space.below) - beyond) | down)))
        self.space = self.space.with_own(self.n_outputs).with_range(task.target_range)
        self.screen = Screen(fold_splits(task, seed=self.seed), self.space)
        self.n_candidates = max(1, int(n_candidates))
        self.seen: set[str] = set()
        self.calls = 0
        #: screened but not yet proposed: key -> (screen score, law, origin)
        self.backlog: dict[str, tuple[float, Law, str]] = {}
        self.best_screen = -np.inf
        #: a proposal's screen score may trail the best by max(floor, share * (1 - best))
        self.gate_floor, self.gate_share = 0.01, 0.25
        #: one record per ``propose`` call not yet handed over by ``journal()``
        self._journal: list[dict[str, Any]] = []
        self._screened: list[list[Any]] = []  # this call's screened candidates: [key, score, law, origin]

    # ---- helpers ---------------------------------------------------------
    def _rng(self, request_seed: int) -> np.random.Generator:
        self.calls += 1
        return np.random.default_rng([self.seed, int(request_seed) & 0xFFFFFFFF, self.calls])

    def parse(self, info: ParentInfo | None) -> Law | None:
        """The structure recorded in a program's meta, if it is ours and valid here."""
        if info is None or not isinstance(info.meta, dict):
            return None
        data = info.meta.get("structure")
        if not isinstance(data, dict):
            return None
        try:
            law = Law.from_json(data)
        except ValueError:
            return None
        return law if valid(law, self.space, None) else None

    def proposal(self, law: Law, origin: str, screen: float | None = None) -> Proposal:
        """Emit ``law`` as a program with its meta."""
        self.seen.add(law.key)
        target = self.task.targets[0] if self.n_outputs == 1 else "y_t"
        meta: dict[str, Any] = {
            "structure": law.to_json(),
            "structure_key": law.key,
            "formula": formula_text(law, self.space, target),
            "latex": formula_latex(law, self.space, target),
            "n_params": law.n_params * self.n_outputs,
            "n_params_per_output": law.n_params,
            "param_names": param_names(law, self.space),
            "complexity": law.complexity,
            "origin": origin,
        }
        if screen is not None and np.isfinite(screen):
            meta["screen_r2"] = float(screen)
        return Proposal(source=program_source(law, self.space, self.task.targets), proposer=NAME, meta=meta)

    def candidates(self, rng: np.random.Generator, parent: Law | None, others: list[Law], n: int) -> list[tuple[Law, str]]:
        """Up to ``n`` novel valid children of ``parent`` (random laws if none)."""
        out: dict[str, tuple[Law, str]] = {}
        for _ in range(12 * n):
            if len(out) >= n:
                break
            if parent is None:
                law, how = random_law(rng, self.space, self.max_params), "random"
            elif others and rng.random() < 0.25:
                law = crossover(rng, parent, others[int(rng.integers(len(others)))], self.space, self.max_params)
                how = "crossover"
                if law is not None and rng.random() < 0.5:
                    m = mutate(rng, law, self.space, self.max_params)
                    law, how = (m[0], "crossover+" + m[1]) if m else (law, how)
            else:
                m = mutate(rng, parent, self.space, self.max_params)
                if m and rng.random() < 0.3:
                    m2 = mutate(rng, m[0], self.space, self.max_params)
                    m = (m2[0], m[1] + "+" + m2[1]) if m2 else m
                law, how = m if m else (None, "")
            if law is None or law.key in self.seen or law.key in out or not identifiable(law, self.space):
                continue
            out[law.key] = (law, how)
        if not out:
            for _ in range(50):
                law = random_law(rng, self.space, self.max_params)
                if law.key not in self.seen and identifiable(law, self.space):
                    out[law.key] = (law, "random")
                    break
        return list(out.values())

    def gate(self) -> float:
        """Least screen score a proposal should have: close to the best seen so far."""
        if not np.isfinite(self.best_screen):
            return -np.inf
        return self.best_screen - max(self.gate_floor, self.gate_share * (1.0 - self.best_screen))

    def choose(self, cands: list[tuple[Law, str]]) -> tuple[Law, str, float | None]:
        """The best-screened candidate if it passes the gate, else the best of the backlog.

        Candidates are scored on the first inner fold of the fit split (without
        one, a fold on fewer scales or a random hold-out: ``screen``); the ones
        not proposed now stay in a backlog, so a good structure found while
        mutating one parent can still be proposed later.
        """
        if self.n_candidates == 1:
            law, how = cands[0]
            return law, how, None
        batch = []
        for law, how in cands:
            s = self.screen.score(law)
            batch.append((s, -law.n_params, law, how))
            self._screened.append([law.key, s, _law_terms(law), how])
            self.backlog[law.key] = (s, law, how)
            if np.isfinite(s):
                self.best_screen = max(self.best_screen, s)
        pick = max(batch, key=lambda b: (b[0], b[1]))
        if not pick[0] >= self.gate():
            queued = [(s, -law.n_params, law, how) for s, law, how in self.backlog.values() if law.key not in self.seen]
            best_queued = max(queued, key=lambda b: (b[0], b[1]))
            if best_queued[0] > pick[0]:
                pick = best_queued
        self.backlog.pop(pick[2].key, None)
        return pick[2], pick[3], pick[0]

    def propose_sync(self, request: ProposalRequest) -> Proposal:
        """The work of ``propose``, synchronously."""
        self._screened = []
        proposed: str | None = None
        try:
            rng = self._rng(request.seed)
            parent = self.parse(request.parent)
            others = [law for law in (self.parse(i) for i in request.inspirations) if law is not None]
            if parent is not None and not valid(parent, self.space, self.max_params):
                parent = None
            cands = self.candidates(rng, parent, others, self.n_candidates)
            if not cands:
                return Proposal(source=None, proposer=NAME, error="no novel structure left to propose",
                                error_kind=EXHAUSTED)
            law, how, s = self.choose(cands)
            proposed = law.key
            return self.proposal(law, how, s)
        finally:
            self._journal.append({"calls": self.calls, "screened": self._screened, "proposed": proposed})

    # ---- resuming ------------------------------------------------------------
    def journal(self) -> list[dict[str, Any]]:
        """The records of the ``propose`` calls since the last call (JSON), oldest first.

        Each record: ``calls`` (the call count after it), ``screened`` (the
        candidates it screened: ``[key, screen score, law terms, origin]``) and
        ``proposed`` (the key it proposed, or None).
        """
        out, self._journal = self._journal, []
        return out

    def replay(self, records: list[dict[str, Any]]) -> None:
        """Rebuild the state that ``records`` (from ``journal``, in order) describe.

        Call on a proposer built like the original, after ``seeds()``: the seed
        proposals are not journaled, they are made again.
        """
        for rec in records:
            self.calls = int(rec["calls"])
            for key, s, terms, how in rec["screened"]:
                s = float(s)
                self.screen.cache[key] = s
                self.backlog[key] = (s, _law_from_terms(terms), how)
                if np.isfinite(s):
                    self.best_screen = max(self.best_screen, s)
            if rec["proposed"] is not None:
                self.backlog.pop(rec["proposed"], None)
                self.seen.add(rec["proposed"])

    async def propose(self, request: ProposalRequest) -> Proposal:
        """A new program: a screened mutation of the parent's structure.

        Runs in the caller's thread, so concurrent requests are answered in the
        order they were made and a seed gives the same run every time.
        """
        return self.propose_sync(request)

    # ---- starting points ---------------------------------------------------
    def seed_laws(self) -> list[Law]:
        """Generic starting structures for this feature space (within the limit)."""
        sp = self.space
        logs, mix = feats_of(sp, "log"), feats_of(sp, "frac", "lin")
        c = Term()
        pools: list[list[Term]] = []
        if logs:
            pools.append([c] + [Term.of(Factor("pow", (i,))) for i in logs])
            pools.append([c, Term.of(*[Factor("pow", (i,)) for i in logs])])
            for i in logs:
                pools.append([c, Term.of(Factor("sat", (i,)))] + [Term.of(Factor("pow", (j,))) for j in logs if j != i])
                pools.append([c, Term.of(Factor("shift", (i,)))] + [Term.of(Factor("pow", (j,))) for j in logs if j != i])
            for i, j in sp.dominates:
                rest = [Term.of(Factor("pow", (k,))) for k in logs if k not in (i, j)]
                pools.append([c, Term.of(Factor("eff", (i, j)))] + rest)
            for i in logs:  # a size scaled by the log of another feature, one shared exponent
                for j in logs:
                    if i != j and not sp.entangles(i, j):
                        rest = [Term.of(Factor("pow", (k,))) for k in logs if k not in (i, j)]
                        pools.append([c, Term.of(Factor("escale", (i, j)))] + rest)
            for i, j in tie_pairs(sp):  # two sizes under one exponent where two are not pinned (E + A/N^a + B/D^a)
                rest = [Term.of(Factor("pow", (k,))) for k in logs if k not in (i, j)]
                pools.append([c, Term.of(Factor("tpow", (i, j)))] + rest)
            if len(logs) >= 2:  # a knob whose optimum moves with the others (a learning rate with model size)
                for i in logs:
                    others = tuple(j for j in logs if j != i)
                    pools.append([c] + [Term.of(Factor("pow", (j,))) for j in others]
                                 + [Term.of(Factor("bowl", (i, *others[:2])))])
        if mix:
            raw = [i for i in mix if i < sp.n_raw]
            pools.append([c, Term.of(Factor("expmix", tuple(raw)))])
            if sp.mixture:  # proportions sum to one: one weight is redundant
                pools.append([c, Term.of(Factor("expmix", tuple(raw[:-1])))])
            if sp.own:
                own = sp.n_features - 1
                pools.append([c, Term.of(Factor("logsh", (own,))), Term.of(Factor("expmix", tuple(raw[:-2])))])
                pools.append([c, Term.of(Factor("shift", (own,))), Term.of(Factor("expmix", tuple(raw[:-3])))])
            pools.append([c] + [Term.of(Factor("lin", (i,))) for i in mix])
            pools.append([c] + [Term.of(Factor("logsh", (i,))) for i in mix if sp.kinds[i] == "frac"])
        out: dict[str, Law] = {}
        for terms in pools:
            for law in self._valid_parts([t for t in terms if all(f.n_params >= 0 for f in t.factors)]):
                out.setdefault(law.key, law)
        return list(out.values())

    def _valid_parts(self, terms: list[Term], max_dropped: int = SEED_DROP) -> list[Law]:
        """The laws a starting structure ``terms`` gives here (valid and identifiable; none, one or two).

        The longest start of ``terms`` that is valid (shortened from the end),
        and, when that lost terms, the law with the fewest terms left out
        anywhere (at most ``max_dropped``; the last ones first). Shortening
        alone dropped the term a starting structure is about: with three model
        sizes in the fit rows, ``E + A N^a`` is not pinned along N, and the
        learning-rate bowl listed after the power of N went with it, so no
        seed on a learning-rate table with three sizes had the bowl; leaving
        out the power of N keeps it.
        """
        def ok(law: Law) -> bool:
            return valid(law, self.space, self.max_params) and identifiable(law, self.space)

        kept = next((n for n in range(len(terms), 0, -1) if ok(Law.of(*terms[:n]))), 0)
        out = [Law.of(*terms[:kept])] if kept else []
        if kept < len(terms):
            parts = (Law.of(*[t for i, t in enumerate(terms) if i not in dropped])
                     for k in range(1, min(max_dropped, len(terms) - 1) + 1)
                     for dropped in combinations(reversed(range(len(terms))), k))
            if (law := next(filter(ok, parts), None)) is not None:
                out.append(law)
        return out

    def seeds(self) -> list[Proposal]:
        """A handful of good, diverse starting programs (best screened first)."""
        laws = self.seed_laws()
        scored = sorted(((self.screen.score(law), i, law) for i, law in enumerate(laws)), key=lambda s: (-s[0], s[1]))
        for s, _, _ in scored:
            if np.isfinite(s):
                self.best_screen = max(self.best_screen, s)
        return [self.proposal(law, "seed", s) for s, _, law in scored[:8]]


def _law_terms(law: Law) -> list[list[list[Any]]]:
    """``law`` as JSON, in its own order (``Law.to_json`` canonicalises)."""
    return [[[f.kind, list(f.feats)] for f in t.factors] for t in law.terms]


def _law_from_terms(terms: list[list[list[Any]]]) -> Law:
    """The inverse of :func:`_law_terms`."""
    return Law(tuple(Term(tuple(Factor(str(kind), tuple(int(i) for i in feats)) for kind, feats in t)) for t in terms))
