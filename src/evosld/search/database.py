"""The program database: islands of MAP-Elites grids plus an elite archive.

Written from scratch after the design described for AlphaEvolve / OpenEvolve:

* ``num_islands`` islands evolve apart. Each island is a MAP-Elites grid over
  ``feature_dimensions``; a cell keeps the fittest program that falls into it
  (ties keep the incumbent). The island's *population* is its cell occupants.
  An island holds at most ``population_size // num_islands`` occupants: when
  full, a program opening a new cell replaces the least fit occupant if it is
  fitter, and is left out otherwise.
* The *archive* keeps the ``archive_size`` fittest programs overall.
* ``sample(island)`` picks a parent by exploitation (fitness-ranked choice in
  the island), exploration (uniform choice in the island) or the elite archive,
  with probabilities ``exploitation_ratio`` / ``exploration_ratio`` /
  ``elite_selection_ratio``, and inspirations: the island's top programs plus a
  few random ones from other cells — never the parent.
* Every ``migration_interval`` generations (a generation of an island is one
  ``add`` to it), each island's best ``migration_rate`` fraction is copied to
  the next island of the ring (``i -> i + 1``). A copy is the same record —
  same id, same ``island`` of origin — placed in the other island's grid.
* Fitness is a validation score given by the caller (higher is better). A
  program with ``fitness=None`` (or NaN) failed: it is recorded and the last
  ``failure_memory`` failures of each island are kept for feedback, but it
  never enters a grid or the archive, so it is never a parent or inspiration.

Feature dimensions (``feature_dimensions``), each cut into ``feature_bins`` bins:

* ``complexity`` — ``meta["n_params"]`` (fitted parameters) when known, else
  the code size in lines (``Program.code_size``). Binned on a log scale:
  ``bin = floor(bins * log(1 + c) / log(1 + c_max))`` with ``c_max`` =
  ``PARAMS_MAX`` (64) for parameters and ``LINES_MAX`` (256) for lines, clipped.
* ``diversity`` — a structural fingerprint of the code, stationary and
  deterministic: the EVOLVE block is tokenised (comments and layout dropped,
  every number -> ``NUM``, every string -> ``STR``), the token sequence is
  hashed (BLAKE2b, 64 bits) and ``bin = fingerprint % bins``. Programs that
  differ only in constants, comments or layout share a bin (and so compete
  for the cell: constant tweaks are the same law); any other structural
  difference sends a program to an independent, uniformly drawn bin, so a
  new functional form usually gets a niche of its own instead of having to
  beat the cell's champion at once. The bins are unordered niches, not a
  distance. (A similarity-preserving hash, e.g. MinHash of token shingles,
  was tried and rejected: the fitting boilerplate shared by all programs made
  nearly every program land in the same bin.) Unlike an edit distance to a
  reference set it never changes as the population grows, so ``rebuild`` is
  exact and cheap.
* ``score`` — the fitness, clipped to [0, 1].
* any other name — a number read from ``metrics`` (then ``meta``), clipped to
  [0, 1]; missing -> 0.

Everything is deterministic given the seed and the sequence of calls: random
choices use one ``numpy.random.Generator``; ``add`` draws no random numbers,
so ``rebuild(records)`` (replaying additions) reproduces the grids, archive,
failures and migrations exactly, and ``get_state``/``set_state`` carry the
generator's state across a restart.
"""

from __future__ import annotations

import hashlib
import io
import math
import tokenize
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from evosld.configmodel import ConfigModel
from evosld.errors import ConfigError, first_error
from evosld.program import Program

#: ``c_max`` of the complexity bins when complexity is a parameter count.
PARAMS_MAX = 64
#: ``c_max`` of the complexity bins when complexity is a code size in lines.
LINES_MAX = 256
#: Built-in feature dimensions (any other name is read from metrics/meta).
BUILTIN_FEATURES = ("complexity", "diversity", "score")
#: Version of the ``get_state`` format.
STATE_VERSION = 1

Mode = Literal["exploitation", "exploration", "elite"]


@dataclass
class ProgramRecord:
    """A program as the database sees it.

    Attributes:
        id: the run store's program id (unique).
        source: the program's source code.
        fitness: validation fitness, higher is better; None if the program failed.
        metrics: validation metrics (never test).
        meta: what the proposer recorded (``n_params`` is used for complexity).
        island: the island the program was created in.
        iteration: the loop iteration that produced it.
        parent_id: the id of its parent, or None.
        error: the failure message, for feedback to the proposer.
    """

    id: int
    source: str
    fitness: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    island: int = 0
    iteration: int = 0
    parent_id: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True if the program has a finite fitness (it can be selected)."""
        return self.fitness is not None and math.isfinite(self.fitness)


class DatabaseConfig(ConfigModel):
    """Settings of the program database (names follow OpenEvolve's ``database.*``).

    The three selection ratios must sum to 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    population_size: int = Field(1000, ge=1, description="programs kept in all island grids together")
    archive_size: int = Field(100, ge=1, description="elite archive size (fittest overall)")
    num_islands: int = Field(5, ge=1, description="number of islands")
    elite_selection_ratio: float = Field(0.1, ge=0.0, le=1.0, description="P(parent from the archive)")
    exploration_ratio: float = Field(0.2, ge=0.0, le=1.0, description="P(uniform parent from the island)")
    exploitation_ratio: float = Field(0.7, ge=0.0, le=1.0, description="P(fitness-ranked parent from the island)")
    migration_interval: int = Field(50, ge=1, description="generations between migrations")
    migration_rate: float = Field(0.1, ge=0.0, le=1.0, description="fraction of an island's population migrated")
    feature_dimensions: list[str] = Field(default_factory=lambda: ["complexity", "diversity"], min_length=1)
    feature_bins: int | dict[str, int] = Field(10, description="bins per dimension (one number, or per name)")
    num_top_programs: int = Field(3, ge=0, description="inspirations: fittest programs of the island")
    num_diverse_programs: int = Field(2, ge=0, description="inspirations: random programs from other cells")
    failure_memory: int = Field(5, ge=0, description="last failed programs kept per island")

    @field_validator("feature_dimensions")
    @classmethod
    def _unique_dimensions(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"feature_dimensions has duplicates: {value}")
        if any(not name for name in value):
            raise ValueError("feature_dimensions has an empty name")
        return value

    @model_validator(mode="after")
    def _check(self) -> DatabaseConfig:
        total = self.elite_selection_ratio + self.exploration_ratio + self.exploitation_ratio
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                "elite_selection_ratio + exploration_ratio + exploitation_ratio must sum to 1 "
                f"(got {total:g})"
            )
        if self.population_size < self.num_islands:
            raise ValueError(
                f"population_size ({self.population_size}) must be at least num_islands ({self.num_islands})"
            )
        if isinstance(self.feature_bins, dict):
            missing = [d for d in self.feature_dimensions if d not in self.feature_bins]
            unknown = [d for d in self.feature_bins if d not in self.feature_dimensions]
            if missing:
                raise ValueError(f"feature_bins has no entry for {missing}")
            if unknown:
                raise ValueError(f"feature_bins names unknown dimensions {unknown}")
        for name in self.feature_dimensions:
            if self.bins(name) < 1:
                raise ValueError(f"feature_bins for {name!r} must be at least 1")
        return self

    def bins(self, dimension: str) -> int:
        """Number of bins of one feature dimension."""
        if isinstance(self.feature_bins, dict):
            return int(self.feature_bins[dimension])
        return int(self.feature_bins)

    @property
    def island_capacity(self) -> int:
        """Most programs one island's grid holds."""
        return self.population_size // self.num_islands

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DatabaseConfig:
        """Validate a mapping (e.g. the ``database`` section of a YAML file).

        Raises:
            ConfigError: one line naming the first bad key and why.
        """
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            where, what = first_error(exc, unknown="unknown setting")
            raise ConfigError(f"database.{where}: {what}" if where else f"database: {what}") from None


# --------------------------------------------------------------------------- features


def _n_params(record: ProgramRecord) -> int | None:
    n = record.meta.get("n_params")
    if isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0:
        return int(n)
    return None


def complexity(record: ProgramRecord) -> int:
    """``meta["n_params"]`` if it is a non-negative integer, else the code size in lines."""
    n = _n_params(record)
    return Program(record.source).code_size() if n is None else n


def _log_bin(value: float, maximum: int, bins: int) -> int:
    return min(bins - 1, max(0, int(bins * math.log1p(max(value, 0.0)) / math.log1p(maximum))))


def _tokens(code: str) -> list[str]:
    """Normalised code tokens: names and operators kept, numbers -> NUM, strings -> STR."""
    out: list[str] = []
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in skip:
                continue
            if tok.type == tokenize.NUMBER:
                out.append("NUM")
            elif tok.type == tokenize.STRING:
                out.append("STR")
            else:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code.split()
    return out


def structural_signature(source: str) -> int:
    """A 64-bit fingerprint of the code's structure (constants, comments, layout ignored).

    BLAKE2b of the normalised token sequence (``_tokens``) of the EVOLVE block
    (the whole file if it has no markers).
    """
    program = Program(source)
    code = program.block if program.block is not None else source
    text = " ".join(_tokens(code)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8, person=b"evosld-struct").digest(), "big")


def _island_key(record: ProgramRecord) -> tuple[float, int]:
    """Sort key: fittest first, then oldest (smallest id)."""
    assert record.fitness is not None
    return (-record.fitness, record.id)


# --------------------------------------------------------------------------- database


class _Island:
    """One island: its grid (cell -> program id), failures and generation count."""

    def __init__(self, failure_memory: int) -> None:
        self.cells: dict[tuple[int, ...], int] = {}
        self.failures: deque[int] = deque(maxlen=failure_memory)
        self.generation = 0

    @property
    def members(self) -> set[int]:
        return set(self.cells.values())


class ProgramDatabase:
    """Islands of MAP-Elites grids and an elite archive (see the module docstring).

    Args:
        config: the settings (a ``DatabaseConfig`` or a mapping validated into one).
        seed: seed of the random generator used by ``sample``.
    """

    def __init__(self, config: DatabaseConfig | dict[str, Any] | None = None, seed: int = 0) -> None:
        self.config = config if isinstance(config, DatabaseConfig) else DatabaseConfig.from_dict(config)
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._reset()

    def _reset(self) -> None:
        cfg = self.config
        self._programs: dict[int, ProgramRecord] = {}
        self._order: list[int] = []
        self._features: dict[int, tuple[int, ...]] = {}
        self._complexity: dict[int, int] = {}
        self._islands = [_Island(cfg.failure_memory) for _ in range(cfg.num_islands)]
        self._archive: list[int] = []
        self._best_id: int | None = None
        self._last_migration = 0
        self.migrations = 0
        #: How the last ``sample`` chose its parent (None before any sample).
        self.last_mode: Mode | None = None

    # -- adding ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, program_id: object) -> bool:
        return program_id in self._programs

    @property
    def num_islands(self) -> int:
        return self.config.num_islands

    def add(self, record: ProgramRecord, island: int | None = None) -> bool:
        """Add an evaluated program to ``island`` (default ``record.island``).

        A successful program competes for its cell in the island's grid and
        for the archive; a failed one (``fitness`` None or not finite) goes to
        the island's recent failures. Counts one generation of the island and
        migrates when due.

        Returns:
            True if the program now occupies a cell of the island.
        Raises:
            ValueError: the id was added before, or the island does not exist.
        """
        isl = record.island if island is None else island
        if not 0 <= isl < self.num_islands:
            raise ValueError(f"island {isl} does not exist (num_islands={self.num_islands})")
        if record.id in self._programs:
            raise ValueError(f"program {record.id} is already in the database")
        if record.fitness is not None and not math.isfinite(record.fitness):
            record = replace(record, fitness=None)
        self._programs[record.id] = record
        self._order.append(record.id)
        placed = False
        if record.ok:
            self._features[record.id] = self.features(record)
            self._complexity[record.id] = complexity(record)
            placed = self._place(record.id, isl)
            self._update_archive(record.id)
            if self._best_id is None or _island_key(record) < _island_key(self._programs[self._best_id]):
                self._best_id = record.id
        else:
            self._islands[isl].failures.append(record.id)
        self._islands[isl].generation += 1
        if self.should_migrate():
            self.migrate()
        return placed

    def rebuild(self, records: Iterable[ProgramRecord]) -> None:
        """Forget everything and add ``records`` in order, each to its ``island``.

        Replaying a run's records in the order they were added reproduces its
        grids, archive, failures and migrations; the random generator is left
        alone (restore it with ``set_state``).
        """
        self._reset()
        for record in records:
            self.add(record)

    def features(self, record: ProgramRecord) -> tuple[int, ...]:
        """The record's cell coordinates, one bin per feature dimension."""
        coords = []
        for name in self.config.feature_dimensions:
            bins = self.config.bins(name)
            if name == "complexity":
                scale = LINES_MAX if _n_params(record) is None else PARAMS_MAX
                coords.append(_log_bin(complexity(record), scale, bins))
            elif name == "diversity":
                coords.append(structural_signature(record.source) % bins)
            else:
                value = record.fitness if name == "score" else record.metrics.get(name, record.meta.get(name))
                try:
                    v = float(value) if value is not None else 0.0
                except (TypeError, ValueError):
                    v = 0.0
                v = min(1.0, max(0.0, v)) if math.isfinite(v) else 0.0
                coords.append(min(bins - 1, int(v * bins)))
        return tuple(coords)

    def _place(self, program_id: int, island: int) -> bool:
        """Put a successful program into an island's grid if it earns a cell."""
        isl = self._islands[island]
        if program_id in isl.cells.values():
            return True
        record = self._programs[program_id]
        cell = self._features[program_id]
        incumbent = isl.cells.get(cell)
        if incumbent is not None:
            if _island_key(record) < _island_key(self._programs[incumbent]):
                isl.cells[cell] = program_id
                return True
            return False
        if len(isl.cells) >= self.config.island_capacity:
            worst_cell = max(isl.cells, key=lambda c: _island_key(self._programs[isl.cells[c]]))
            if _island_key(record) >= _island_key(self._programs[isl.cells[worst_cell]]):
                return False
            del isl.cells[worst_cell]
        isl.cells[cell] = program_id
        return True

    def _update_archive(self, program_id: int) -> None:
        self._archive.append(program_id)
        self._archive.sort(key=lambda i: _island_key(self._programs[i]))
        del self._archive[self.config.archive_size :]

    # -- migration --------------------------------------------------------------

    def should_migrate(self) -> bool:
        """True when the most advanced island is ``migration_interval`` generations past the last migration."""
        if self.num_islands < 2 or self.config.migration_rate <= 0:
            return False
        newest = max(isl.generation for isl in self._islands)
        return newest - self._last_migration >= self.config.migration_interval

    def migrate(self) -> int:
        """Copy each island's best programs to the next island of the ring.

        Each island sends ``max(1, floor(migration_rate * population))`` of its
        fittest programs (chosen before any island receives), skipping those
        the receiver already holds. Returns how many copies took a cell.
        """
        self._last_migration = max(isl.generation for isl in self._islands)
        self.migrations += 1
        if self.num_islands < 2:
            return 0
        outgoing = []
        for i in range(self.num_islands):
            pop = self.island_programs(i)
            rate = self.config.migration_rate
            n = max(1, int(rate * len(pop))) if pop and rate > 0 else 0
            outgoing.append([r.id for r in pop[:n]])
        placed = 0
        for i, ids in enumerate(outgoing):
            target = (i + 1) % self.num_islands
            members = self._islands[target].members
            for pid in ids:
                if pid not in members and self._place(pid, target):
                    placed += 1
        return placed

    # -- sampling ---------------------------------------------------------------

    def sample(self, island: int) -> tuple[ProgramRecord | None, list[ProgramRecord]]:
        """A parent for the next child of ``island`` and its inspirations.

        The parent comes from the island (fitness-ranked or uniform) or the
        elite archive, by the configured ratios; an empty island falls back to
        the archive. Inspirations: the island's ``num_top_programs`` fittest,
        then ``num_diverse_programs`` random programs from other cells (other
        islands if the island has too few), never the parent and no duplicate
        sources. Returns ``(None, [])`` while no program has succeeded.
        """
        if not 0 <= island < self.num_islands:
            raise ValueError(f"island {island} does not exist (num_islands={self.num_islands})")
        cfg = self.config
        pop = self.island_programs(island)
        u = float(self._rng.random())
        if u < cfg.exploitation_ratio:
            mode: Mode = "exploitation"
        elif u < cfg.exploitation_ratio + cfg.exploration_ratio:
            mode = "exploration"
        else:
            mode = "elite"
        if not pop:
            mode = "elite"
        if mode == "exploitation":
            weights = 1.0 / np.arange(1, len(pop) + 1)
            parent = pop[int(self._rng.choice(len(pop), p=weights / weights.sum()))]
        elif mode == "exploration":
            parent = pop[int(self._rng.integers(len(pop)))]
        else:
            archive = self.archive()
            if not archive:
                self.last_mode = None
                return None, []
            parent = archive[int(self._rng.integers(len(archive)))]
        self.last_mode = mode
        return parent, self._inspirations(island, parent, pop)

    def _inspirations(
        self, island: int, parent: ProgramRecord, pop: list[ProgramRecord]
    ) -> list[ProgramRecord]:
        cfg = self.config
        chosen: list[ProgramRecord] = []
        sources = {parent.source}

        def take(record: ProgramRecord) -> bool:
            if record.id == parent.id or record.source in sources:
                return False
            chosen.append(record)
            sources.add(record.source)
            return True

        for record in pop:
            if len(chosen) >= cfg.num_top_programs:
                break
            take(record)
        if cfg.num_diverse_programs == 0:
            return chosen
        parent_cell = self._features.get(parent.id)
        taken = {r.id for r in chosen}
        pool = [r for r in pop if self._features[r.id] != parent_cell and r.id not in taken]
        others = sorted(
            {pid for i, isl in enumerate(self._islands) if i != island for pid in isl.cells.values()}
            - {r.id for r in pop}
        )
        pool += [self._programs[pid] for pid in others]
        wanted = cfg.num_diverse_programs
        # One permutation of each part: the island's other cells first, then other islands.
        n_local = len(pool) - len(others)
        order = list(self._rng.permutation(n_local)) + [n_local + int(j) for j in self._rng.permutation(len(others))]
        for j in order:
            if wanted == 0:
                break
            if take(pool[j]):
                wanted -= 1
        return chosen

    # -- queries ----------------------------------------------------------------

    def get(self, program_id: int) -> ProgramRecord:
        """A record by id (KeyError if unknown)."""
        return self._programs[program_id]

    def records(self) -> list[ProgramRecord]:
        """Every record, in the order added."""
        return [self._programs[i] for i in self._order]

    def island_programs(self, island: int) -> list[ProgramRecord]:
        """The island's population (its grid occupants), fittest first."""
        ids = self._islands[island].cells.values()
        return sorted((self._programs[i] for i in ids), key=_island_key)

    def grid(self, island: int) -> dict[tuple[int, ...], ProgramRecord]:
        """The island's occupied cells: coordinates -> program."""
        return {cell: self._programs[pid] for cell, pid in sorted(self._islands[island].cells.items())}

    def archive(self) -> list[ProgramRecord]:
        """The elite archive, fittest first."""
        return [self._programs[i] for i in self._archive]

    def failures(self, island: int) -> list[ProgramRecord]:
        """The island's most recent failed programs (at most ``failure_memory``), oldest first."""
        return [self._programs[i] for i in self._islands[island].failures]

    def generation(self, island: int) -> int:
        """Number of programs added to the island."""
        return self._islands[island].generation

    def best(self) -> ProgramRecord | None:
        """The fittest program ever added (ties: the oldest), or None."""
        return None if self._best_id is None else self._programs[self._best_id]

    def front(self) -> list[ProgramRecord]:
        """Accuracy/complexity Pareto front over all successful programs, simplest first.

        A program is on the front if no other program is at least as fit and
        at most as complex, and strictly better on one of them (ties: oldest).
        """
        ok = sorted(
            (self._programs[i] for i in self._order if self._programs[i].ok),
            key=lambda r: (self._complexity[r.id], -(r.fitness or 0.0), r.id),
        )
        front: list[ProgramRecord] = []
        best_fitness = -math.inf
        for record in ok:
            assert record.fitness is not None
            if record.fitness > best_fitness:
                front.append(record)
                best_fitness = record.fitness
        return front

    def complexity_of(self, program_id: int) -> int:
        """The complexity used for the grid and the front (see ``complexity``)."""
        return self._complexity[program_id] if program_id in self._complexity else complexity(self.get(program_id))

    def summary(self) -> dict[str, Any]:
        """Counts for progress displays: programs, failures, occupied cells per island."""
        return {
            "programs": len(self._order),
            "failed": sum(1 for r in self._programs.values() if not r.ok),
            "islands": [len(isl.cells) for isl in self._islands],
            "archive": len(self._archive),
            "migrations": self.migrations,
            "best_fitness": None if self._best_id is None else self._programs[self._best_id].fitness,
        }

    # -- state --------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable state for resuming: the random generator (and counters, for checks)."""
        return {
            "version": STATE_VERSION,
            "seed": self.seed,
            "rng": self._rng.bit_generator.state,
            "programs": len(self._order),
            "migrations": self.migrations,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the random generator saved by ``get_state`` (call after ``rebuild``)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported database state version {state.get('version')!r}")
        bit_generator = self._rng.bit_generator
        if state["rng"].get("bit_generator") != type(bit_generator).__name__:
            raise ValueError(f"database state is for a {state['rng'].get('bit_generator')} generator")
        bit_generator.state = state["rng"]
