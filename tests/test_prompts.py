"""Prompt building: contract, rules, data facts from the search view, never test metrics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from evosld.proposers.base import ParentInfo, ProposalRequest
from evosld.proposers.llm.prompts import (
    build_messages,
    feedback_messages,
    format_metrics,
    task_facts,
    visible_metrics,
)
from evosld.tasks.task import GROUP_COLUMN, Task
from tests.fakes.programs import (
    CHILD,
    PARENT,
    TEST_MARKER_LOSS,
    TEST_MARKER_N,
    parent_info,
    toy_task,
)


def texts(messages):
    assert [m["role"] for m in messages] == ["system", "user"]
    return messages[0]["content"], messages[1]["content"]


def test_system_message_states_contract_rules_and_limit():
    system, _ = texts(build_messages(toy_task(), ProposalRequest(0, parent_info())))
    system = " ".join(system.split())
    for needle in (
        "def scaling_law_func(data_points, params)",
        "def fit_scaling_law(data_points, loss_values)",
        "(N, 2) float array",
        "(T, P)",
        "# EVOLVE-BLOCK-START",
        "at most 5 fitted parameters per group",
        "must not use statistics",
        "must not fit anything",
        "least_squares",
        "N, D",
    ):
        assert needle in system, needle


def test_user_message_has_task_facts_parent_and_val_metrics():
    insp = ParentInfo(7, CHILD, metrics={"r2": 0.95, "test_nmse": 0.4321})
    request = ProposalRequest(3, parent_info(), inspirations=(insp,))
    _, user = texts(build_messages(toy_task(), request))
    assert "Loss of toy models" in user
    assert "[0] N: fit range [1e+07, 3.981e+08], validation range [1e+09, 1e+09]" in user
    assert "[1] D:" in user and "log scale" in user
    assert "Groups: 2 (model_0, model_1)" in user
    assert "30 to fit on, 6 held out for validation (rule: N >= 5e8)" in user
    assert PARENT.strip() in user
    assert "r2=0.9123, nmse=0.0877, nmae=0.2468" in user
    assert "Inspiration 1" in user and "r2=0.95" in user
    assert "```python" in user and "SEARCH" not in user


def test_prompt_never_shows_test_metrics_or_test_rows():
    insp = ParentInfo(7, CHILD, metrics={"r2": 0.95, "test_nmse": 0.4321})
    request = ProposalRequest(3, parent_info(), inspirations=(insp,))
    for diff_mode in (False, True):
        blob = "\n".join(m["content"] for m in build_messages(toy_task(), request, diff_mode=diff_mode))
        for forbidden in ("0.5555", "0.6666", "0.4321", "test_r2", "r2_test", "test_nmse"):
            assert forbidden not in blob, forbidden
        assert f"{TEST_MARKER_N:.4g}" not in blob and str(TEST_MARKER_LOSS) not in blob
        assert "test" not in blob.lower().replace("test_rule", "")


def test_visible_metrics_drop_test_keys_and_non_numbers():
    shown = visible_metrics({"r2": 0.9, "test_r2": 0.1, "R2_TEST": 0.2, "note": "x", "nmse": "0.5"})
    assert shown == {"r2": 0.9, "nmse": 0.5}
    assert format_metrics({}) == "none"
    assert format_metrics({"r2": float("nan"), "complexity": 12}) == "r2=nan, complexity=12"


def test_failed_parent_shows_its_error_tail():
    error = "Traceback (most recent call last):\n" + "  frame\n" * 500 + "ValueError: shapes (3,) and (4,) not aligned"
    request = ProposalRequest(1, parent_info(metrics={}, error=error))
    _, user = texts(build_messages(toy_task(), request))
    assert "It FAILED with this error" in user
    assert "ValueError: shapes (3,) and (4,) not aligned" in user
    assert user.count("  frame") < 300
    assert "Validation metrics: none" in user


def test_diff_mode_asks_for_search_replace_blocks():
    _, user = texts(build_messages(toy_task(), ProposalRequest(1, parent_info()), diff_mode=True))
    assert "<<<<<<< SEARCH" in user and ">>>>>>> REPLACE" in user


def test_fresh_start_shows_the_template_and_asks_for_a_full_program():
    _, user = texts(build_messages(toy_task(), ProposalRequest(0, None), diff_mode=True))
    assert "There is none yet" in user
    assert "# EVOLVE-BLOCK-START" in user and "def fit_scaling_law" in user
    assert "<<<<<<< SEARCH" not in user


def test_loop_feedback_is_included():
    request = ProposalRequest(2, parent_info(), feedback="evaluation timed out after 60 s")
    _, user = texts(build_messages(toy_task(), request))
    assert "previous attempt" in user and "evaluation timed out after 60 s" in user


def test_inspirations_show_the_block_only():
    request = ProposalRequest(2, parent_info(), inspirations=(ParentInfo(5, CHILD, metrics={"r2": 0.9}),))
    _, user = texts(build_messages(toy_task(), request))
    insp_part = user.split("Inspiration 1")[1].split("## Current program")[0]
    assert "def helper_outside_block" not in insp_part
    assert "x0=[2.0, 50.0, 0.25]" in insp_part


def test_task_facts_come_from_the_search_view():
    task = toy_task()
    facts = task_facts(task)
    assert facts["rows"] == {"fit": 30, "val": 6}
    assert facts["features"]["N"]["val_range"][1] == 1e9
    assert facts["targets"]["loss"]["fit_range"][1] < 10
    assert all(TEST_MARKER_N not in f["fit_range"] + f["val_range"] for f in facts["features"].values())
    # Same facts when the test split is empty: nothing is read from it.
    assert task_facts(task.search_view()) == facts


def test_multi_target_task_mentions_output_shape_and_per_target_limit():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=30)
    df = pd.DataFrame(p, columns=["p1", "p2", "p3"])
    for j in range(3):
        df[f"loss{j + 1}"] = 3 - p[:, j]
    df[GROUP_COLUMN] = "all_data"
    mask = np.zeros(30, dtype=bool)
    mask[-5:] = True
    task = Task("mix", ("p1", "p2", "p3"), ("loss1", "loss2", "loss3"), df, df.iloc[:0], mask, max_params=12)
    system, user = texts(build_messages(task, ProposalRequest(0, None)))
    system = " ".join(system.split())
    assert "returns predictions of shape (N, 3)" in system
    assert "at most 12 fitted parameters" in system and "4 per target" in system
    assert "[2] loss3" in user
    no_limit = replace(task, max_params=None)
    assert "as few fitted parameters" in texts(build_messages(no_limit, ProposalRequest(0, None)))[0]


def test_feedback_messages_replay_the_answer_and_the_reason():
    msgs = feedback_messages("my answer", "no code block: the answer is empty", diff_mode=True)
    assert msgs[0] == {"role": "assistant", "content": "my answer"}
    assert msgs[1]["role"] == "user"
    assert "no code block: the answer is empty" in msgs[1]["content"]
    assert "SEARCH/REPLACE" in msgs[1]["content"]


def test_custom_system_message_replaces_the_default():
    system, user = texts(build_messages(toy_task(), ProposalRequest(1, parent_info()), system="Be a physicist."))
    assert system == "Be a physicist."
    assert "```python" in user  # the answer format is still requested
