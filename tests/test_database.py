"""The program database: determinism, selection ratios, MAP-Elites, migration, resume."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest

from evosld.errors import ConfigError
from evosld.search.database import (
    DatabaseConfig,
    ProgramDatabase,
    ProgramRecord,
    structural_signature,
)

TERMS = ["np.log(x)", "np.exp(-x)", "x ** p[1]", "np.sqrt(x)", "1.0 / x", "np.tanh(x)", "x * x", "np.abs(x)"]
FORMS = [" + ".join(c) for k in (1, 2, 3) for c in itertools.combinations(TERMS, k)]


def source(form: str, const: float = 1.0) -> str:
    return (
        "import numpy as np\n# EVOLVE-BLOCK-START\n"
        "def scaling_law_func(X, p):\n"
        "    x = X[:, 0]\n"
        f"    return p[0] + {const} * ({form})\n"
        "def fit_scaling_law(X, y):\n"
        "    return np.ones(3)\n"
        "# EVOLVE-BLOCK-END\n"
    )


def record(i: int, fitness: float | None, island: int = 0, n_params: int | None = None, form: int | None = None,
           src: str | None = None) -> ProgramRecord:
    meta = {} if n_params is None else {"n_params": n_params}
    return ProgramRecord(
        id=i,
        source=src if src is not None else source(FORMS[(i if form is None else form) % len(FORMS)], const=i),
        fitness=fitness,
        metrics={} if fitness is None else {"r2": fitness},
        meta=meta,
        island=island,
        iteration=i,
        parent_id=None,
        error="crashed" if fitness is None else None,
    )


def stream(n: int, islands: int, seed: int = 0) -> list[ProgramRecord]:
    """A reproducible sequence of records over the islands (one in seven fails)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(1, n + 1):
        fitness = None if i % 7 == 0 else float(rng.uniform(-1, 1))
        out.append(record(i, fitness, island=i % islands, n_params=int(rng.integers(1, 12))))
    return out


def run(db: ProgramDatabase, records: list[ProgramRecord]) -> list[tuple]:
    """Interleave samples and adds like the loop does; the sampled ids."""
    trace = []
    for rec in records:
        parent, insp = db.sample(rec.island)
        trace.append((db.last_mode, parent and parent.id, tuple(r.id for r in insp)))
        db.add(rec)
    return trace


def snapshot(db: ProgramDatabase) -> dict:
    return {
        "grids": [{c: r.id for c, r in db.grid(i).items()} for i in range(db.num_islands)],
        "archive": [r.id for r in db.archive()],
        "failures": [[r.id for r in db.failures(i)] for i in range(db.num_islands)],
        "best": db.best().id,
        "front": [r.id for r in db.front()],
        "migrations": db.migrations,
        "generations": [db.generation(i) for i in range(db.num_islands)],
        "len": len(db),
    }


CFG = DatabaseConfig(num_islands=3, migration_interval=5, population_size=60, archive_size=10)


def test_same_seed_same_search_other_seed_differs():
    records = stream(80, 3)
    a, b, c = ProgramDatabase(CFG, seed=1), ProgramDatabase(CFG, seed=1), ProgramDatabase(CFG, seed=2)
    ta, tb, tc = run(a, records), run(b, stream(80, 3)), run(c, stream(80, 3))
    assert ta == tb and snapshot(a) == snapshot(b)
    assert ta != tc
    assert snapshot(a) == snapshot(c)  # adding draws no random numbers
    assert a.get_state() == b.get_state()


def test_empty_database_samples_nothing():
    db = ProgramDatabase(CFG, seed=0)
    assert db.sample(0) == (None, [])
    assert db.best() is None and db.front() == [] and db.archive() == []


def test_selection_ratios():
    db = ProgramDatabase(CFG, seed=3)
    for rec in stream(60, 3):
        db.add(rec)
    modes = Counter()
    for _ in range(3000):
        db.sample(0)
        modes[db.last_mode] += 1
    assert modes["exploitation"] / 3000 == pytest.approx(0.7, abs=0.03)
    assert modes["exploration"] / 3000 == pytest.approx(0.2, abs=0.03)
    assert modes["elite"] / 3000 == pytest.approx(0.1, abs=0.03)


@pytest.mark.parametrize(
    ("ratios", "mode"),
    [((1.0, 0.0, 0.0), "exploitation"), ((0.0, 1.0, 0.0), "exploration"), ((0.0, 0.0, 1.0), "elite")],
)
def test_each_mode_picks_from_its_pool(ratios, mode):
    cfg = CFG.model_copy(
        update=dict(zip(("exploitation_ratio", "exploration_ratio", "elite_selection_ratio"), ratios))
    )
    db = ProgramDatabase(cfg, seed=4)
    for rec in stream(90, 3):
        db.add(rec)
    island = {r.id for r in db.island_programs(1)}
    archive = {r.id for r in db.archive()}
    parents = Counter()
    for _ in range(2000):
        parent, _ = db.sample(1)
        assert db.last_mode == mode
        parents[parent.id] += 1
    pool = archive if mode == "elite" else island
    assert set(parents) <= pool
    ranked = [r.id for r in db.island_programs(1)]
    if mode == "exploitation":  # fitness-ranked: the best is picked most
        assert parents.most_common(1)[0][0] == ranked[0]
        assert parents[ranked[0]] > 3 * parents[ranked[-1]]
    if mode == "exploration":  # uniform over the island
        assert len(parents) == len(island)
        assert max(parents.values()) < 3 * min(parents.values())


def test_map_elites_cell_keeps_the_fittest():
    db = ProgramDatabase(DatabaseConfig(num_islands=1), seed=0)
    same = source(FORMS[0])
    assert db.add(record(1, 0.5, n_params=3, src=same))
    assert not db.add(record(2, 0.4, n_params=3, src=same))  # less fit: left out
    assert not db.add(record(3, 0.5, n_params=3, src=same))  # tie: incumbent stays
    assert db.add(record(4, 0.9, n_params=3, src=same))  # fitter: replaces
    assert [r.id for r in db.island_programs(0)] == [4]
    assert db.add(record(5, 0.1, n_params=9, src=same))  # another complexity bin: another cell
    assert len(db.grid(0)) == 2
    assert [r.id for r in db.archive()] == [4, 1, 3, 2, 5]  # archive keeps all fit programs (size 100)
    assert db.best().id == 4


def test_island_capacity_evicts_the_least_fit():
    db = ProgramDatabase(DatabaseConfig(num_islands=1, population_size=3, archive_size=2), seed=0)
    for i, fit in enumerate([0.3, 0.1, 0.2], start=1):
        assert db.add(record(i, fit, n_params=i))
    assert db.add(record(4, 0.25, n_params=20))  # full: replaces the worst (id 2)
    assert sorted(r.id for r in db.island_programs(0)) == [1, 3, 4]
    assert not db.add(record(5, 0.05, n_params=40))  # not fitter than the worst: left out
    assert [r.id for r in db.archive()] == [1, 4]


def test_ring_migration_copies_best_programs():
    cfg = DatabaseConfig(num_islands=3, migration_interval=4, migration_rate=0.5)
    db = ProgramDatabase(cfg, seed=0)
    sizes = {1: 1, 2: 4, 3: 12, 4: 40}  # one complexity bin each
    for i in range(1, 4):
        db.add(record(i, 0.1 * i, island=0, n_params=sizes[i]))
    assert db.migrations == 0 and db.island_programs(1) == []
    db.add(record(4, 0.9, island=0, n_params=sizes[4]))  # 4th generation of island 0: migrate
    assert db.migrations == 1
    moved = db.island_programs(1)
    assert [r.id for r in moved] == [4, 3]  # best half of island 0, same ids
    assert all(r.island == 0 for r in moved)  # the original island is kept
    assert db.island_programs(2) == []  # island 1 was empty when migration started
    assert [r.id for r in db.island_programs(0)] == [4, 3, 2, 1]
    assert len(db) == 4  # copies are not new programs
    for _ in range(3):
        db.add(record(len(db) + 1, -0.5, island=1, n_params=30))
    assert db.migrations == 1  # max generation is 4, not yet 8


def test_failures_are_kept_but_never_selected():
    cfg = DatabaseConfig(num_islands=2, failure_memory=3, num_top_programs=5, num_diverse_programs=5)
    db = ProgramDatabase(cfg, seed=0)
    for i in range(1, 6):
        assert not db.add(record(i, None, island=0))
    assert db.sample(0) == (None, [])
    db.add(record(6, float("nan"), island=0))  # NaN fitness is a failure too
    assert [r.id for r in db.failures(0)] == [4, 5, 6]
    assert db.failures(0)[-1].fitness is None and db.failures(0)[0].error == "crashed"
    db.add(record(7, 0.2, island=0))
    db.add(record(8, 0.3, island=1))
    failed = set(range(1, 7))
    for island in (0, 1):
        for _ in range(200):
            parent, insp = db.sample(island)
            assert parent.id not in failed
            assert not failed & {r.id for r in insp}
    assert db.best().id == 8 and {r.id for r in db.front()} <= {7, 8}


def test_inspirations_exclude_the_parent_and_duplicates():
    cfg = DatabaseConfig(num_islands=2, num_top_programs=3, num_diverse_programs=3, migration_interval=1000)
    db = ProgramDatabase(cfg, seed=5)
    for rec in stream(60, 2):
        db.add(rec)
    dup = record(1000, 0.99, island=0, src=db.island_programs(0)[0].source, n_params=50)
    db.add(dup)  # same source as another member, different cell
    for _ in range(300):
        parent, insp = db.sample(0)
        ids = [r.id for r in insp]
        assert parent.id not in ids and len(ids) == len(set(ids)) == 6
        sources = [parent.source] + [r.source for r in insp]
        assert len(sources) == len(set(sources))
        seen, top = {parent.source}, []
        for r in db.island_programs(0):  # fittest first, one per source
            if r.source not in seen:
                seen.add(r.source)
                top.append(r.id)
        assert ids[:3] == top[:3]


def test_state_round_trip_resumes_the_same_search():
    records = stream(120, 3)
    full = ProgramDatabase(CFG, seed=11)
    trace = run(full, records)
    first = ProgramDatabase(CFG, seed=11)
    head = run(first, records[:70])
    state = json.loads(json.dumps(first.get_state()))  # what the store keeps

    resumed = ProgramDatabase(CFG, seed=999)  # the seed is restored from the state
    resumed.rebuild(records[:70])
    resumed.set_state(state)
    tail = run(resumed, records[70:])
    assert head + tail == trace
    assert snapshot(resumed) == snapshot(full)


def test_rebuild_equals_incremental():
    records = stream(150, 3, seed=2)
    inc = ProgramDatabase(CFG, seed=0)
    run(inc, records)
    assert inc.migrations > 0
    rebuilt = ProgramDatabase(CFG, seed=0)
    rebuilt.add(record(999, 1.0))  # rebuild starts from scratch
    rebuilt.rebuild(records)
    assert snapshot(rebuilt) == snapshot(inc)
    assert [r.id for r in rebuilt.records()] == [r.id for r in records]


def test_front_is_accuracy_complexity_pareto():
    db = ProgramDatabase(DatabaseConfig(num_islands=1), seed=0)
    for i, (n, fit) in enumerate([(2, 0.5), (3, 0.4), (3, 0.7), (5, 0.7), (8, 0.9), (1, None)], start=1):
        db.add(record(i, fit, n_params=n))
    assert [(db.complexity_of(r.id), r.fitness) for r in db.front()] == [(2, 0.5), (3, 0.7), (8, 0.9)]


def test_diversity_signature_ignores_constants_and_layout():
    a = source(FORMS[5], const=1.0)
    b = source(FORMS[5], const=42.5).replace("    x = X[:, 0]\n", "    # comment\n    x = X[:,0]\n")
    assert structural_signature(a) == structural_signature(b)
    sigs = {structural_signature(source(f)) % 10 for f in FORMS}
    assert len(sigs) >= 5  # different forms spread over the bins


def test_add_rejects_bad_input():
    db = ProgramDatabase(CFG, seed=0)
    db.add(record(1, 0.1))
    with pytest.raises(ValueError, match="already"):
        db.add(record(1, 0.2))
    with pytest.raises(ValueError, match="island 7"):
        db.add(record(2, 0.2), island=7)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"db_path": "x"}, "database.db_path: unknown setting"),
        ({"exploration_ratio": 0.5}, "must sum to 1"),
        ({"num_islands": 0}, "database.num_islands"),
        ({"population_size": 2, "num_islands": 3}, "population_size"),
        ({"feature_bins": {"complexity": 4}}, "no entry for \\['diversity'\\]"),
        ({"feature_dimensions": ["complexity", "complexity"]}, "duplicates"),
        ({"migration_rate": 2}, "database.migration_rate"),
    ],
)
def test_config_errors_are_one_line(data, message):
    with pytest.raises(ConfigError, match=message) as exc:
        DatabaseConfig.from_dict(data)
    assert "\n" not in str(exc.value)


def test_config_accepts_openevolve_names_and_per_dimension_bins():
    cfg = DatabaseConfig.from_dict(
        {"population_size": 50, "num_islands": 2, "feature_bins": {"complexity": 4, "diversity": 6},
         "exploitation_ratio": 0.5, "exploration_ratio": 0.3, "elite_selection_ratio": 0.2}
    )
    assert cfg.bins("diversity") == 6 and cfg.island_capacity == 25
    db = ProgramDatabase(cfg.model_dump(), seed=0)
    db.add(record(1, 0.3, n_params=100))
    (cell,) = db.grid(0)
    assert cell[0] == 3 and 0 <= cell[1] < 6


def test_openevolve_prompt_keys_set_the_inspirations_unless_the_database_has_its_own():
    from evosld.config import RunConfig, load_config

    cfg, _ = load_config(None, {"prompt": {"num_top_programs": 5, "num_diverse_programs": 0}})
    assert (cfg.database.num_top_programs, cfg.database.num_diverse_programs) == (5, 0)
    assert RunConfig.model_validate(cfg.model_dump(mode="json")).database.num_top_programs == 5  # as stored
    cfg, _ = load_config(None, {"prompt": {"num_top_programs": 5}, "database": {"num_top_programs": 1}})
    assert cfg.database.num_top_programs == 1
    assert load_config(None, {})[0].database.num_top_programs == DatabaseConfig().num_top_programs
    with pytest.raises(ConfigError, match="config: prompt.num_top_programs: Input should be greater"):
        load_config(None, {"prompt": {"num_top_programs": -1}})
