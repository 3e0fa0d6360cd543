"""Published reference figures (test R², SLDBench leaderboard; DESIGN.md).

``human``: the human law of each task (leaderboard figure);
``sldagent_gpt5``: SLDAgent with GPT-5, mean of five runs (arXiv 2507.21184);
``best_agent``: the best run of any agent on the board, where DESIGN.md gives it.
easy_question's human law (a quintic extrapolated past its data) scores far below
-1 and is listed, as on the board, clipped at -1.
"""

from __future__ import annotations

PUBLISHED: dict[str, dict[str, float]] = {
    "vocab_scaling_law": {"human": 0.966, "sldagent_gpt5": 0.987},
    "sft_scaling_law": {"human": 0.957, "sldagent_gpt5": 0.993},
    "domain_mixture_scaling_law": {"human": 0.671, "sldagent_gpt5": 0.988},
    "moe_scaling_law": {"human": 0.703, "sldagent_gpt5": 0.773},
    "data_constrained_scaling_law": {"human": 0.911, "sldagent_gpt5": 0.944},
    "lr_bsz_scaling_law": {"human": -0.076, "sldagent_gpt5": 0.604},
    "parallel_scaling_law": {"human": 0.99989, "sldagent_gpt5": 0.99981, "best_agent": 0.99997},
    "easy_question_scaling_law": {"human": -1.0, "sldagent_gpt5": -0.305, "best_agent": 0.381},
}
