"""The eight SLDBench tasks: schema, descriptions, parameter limits and split rules.

Feature order follows SLDBench (arXiv 2507.21184); ``max_params`` is the number
of fitted parameters per group of the published human law. ``val_rule`` carves
validation from train the way the benchmark carved test from the whole.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    """Static description of a built-in task (no data)."""

    name: str
    features: tuple[str, ...]
    targets: tuple[str, ...]
    description: str
    max_params: int
    #: empty: derived from ``test_rule`` (``tasks.folds.derive_val_rule``)
    val_rule: str
    test_rule: str
    log_features: tuple[str, ...]
    baseline: str


BUILTIN: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in [
        TaskSpec(
            name="data_constrained_scaling_law",
            features=("unique_tokens", "params", "tokens"),
            targets=("loss",),
            description=(
                "Pre-training loss of dense language models trained for several epochs on a "
                "limited pool of unique data (Muennighoff et al. 2023). As in SLDBench, the "
                "column named unique_tokens holds the TOTAL number of training tokens D and "
                "the column named tokens holds the number of UNIQUE tokens U; params is the "
                "model size N. Repeating data gives diminishing returns."
            ),
            max_params=7,
            val_rule="params >= 2.8e9 or unique_tokens >= 2.5e11",
            test_rule="unique_tokens >= 6e11 or params >= 4.2465e9",
            log_features=("unique_tokens", "params", "tokens"),
            baseline="data_constrained",
        ),
        TaskSpec(
            name="domain_mixture_scaling_law",
            features=tuple(f"proportion_domain_{i}" for i in range(1, 6)),
            targets=tuple(f"loss_domain_{i}" for i in range(1, 6)),
            description=(
                "Validation loss on each of five pre-training domains as a function of the "
                "mixture proportions of those domains in the training data (Ye et al. 2024, "
                "data mixing laws); proportions sum to one and may be zero. One group per "
                "model size (70M, 160M, 305M, 410M); five outputs predicted jointly."
            ),
            max_params=35,
            val_rule="random:4",
            test_rule="six held-out mixtures per model size",
            log_features=(),
            baseline="domain_mixture",
        ),
        TaskSpec(
            name="lr_bsz_scaling_law",
            features=("lr", "bsz", "data_size", "non_embedding_param_size"),
            targets=("lm_loss",),
            description=(
                "Final language-modelling loss of dense models over a grid of learning rate "
                "and batch size, at several model sizes N and token counts D (StepLaw, Li et "
                "al. 2025). Loss is a bowl in log(lr) and log(bsz) whose optimum moves with N "
                "and D, on top of a power law in N and D."
            ),
            max_params=12,
            val_rule="non_embedding_param_size >= 1e9 and data_size >= 5.6e10",
            test_rule="non_embedding_param_size >= 1e9 and data_size >= 1e11",
            log_features=("lr", "bsz", "data_size", "non_embedding_param_size"),
            baseline="lr_bsz",
        ),
        TaskSpec(
            name="moe_scaling_law",
            features=("num_experts", "dense_parameter_count"),
            targets=("loss_validation",),
            description=(
                "Validation loss of mixture-of-experts language models as a function of the "
                "number of experts E and the dense (non-expert) parameter count N (Clark et "
                "al. 2022, unified scaling laws for routed language models)."
            ),
            max_params=6,
            val_rule="dense_parameter_count >= 3.6e8",
            test_rule="dense_parameter_count >= 1.3e9",
            log_features=("num_experts", "dense_parameter_count"),
            baseline="moe",
        ),
        TaskSpec(
            name="sft_scaling_law",
            features=("sft_data_size",),
            targets=("sft_loss",),
            description=(
                "Supervised fine-tuning loss as a function of the number of fine-tuning "
                "examples D, for 42 (base model, dataset) pairs, each its own group (Lin et "
                "al. 2024, rectified scaling law): a pre-learned plateau at small D, then a "
                "power-law decline."
            ),
            max_params=4,
            val_rule="largest:sft_data_size",
            test_rule="largest:sft_data_size (819200 examples)",
            log_features=("sft_data_size",),
            baseline="sft",
        ),
        TaskSpec(
            name="vocab_scaling_law",
            features=("non_vocab_parameters", "vocab_size", "num_characters"),
            targets=("unigram_normalized_loss",),
            description=(
                "Unigram-normalised loss (negative; lower is better) as a function of the "
                "non-vocabulary parameters N, the vocabulary size V and the number of "
                "training characters D (Tao et al. 2024, scaling laws with vocabulary)."
            ),
            max_params=7,
            val_rule="largest:vocab_size",
            test_rule="vocab_size >= 96256",
            log_features=("non_vocab_parameters", "vocab_size", "num_characters"),
            baseline="vocab",
        ),
        TaskSpec(
            name="parallel_scaling_law",
            features=("num_params", "parallel_size"),
            targets=("loss",),
            description=(
                "Final loss of language models trained with parallel scaling (ParScale, Chen et "
                "al. 2025): the input is transformed P ways (parallel_size), the P streams run "
                "through one shared model of num_params non-embedding parameters, and their "
                "outputs are aggregated. One group per training corpus (stack: Stack-V2 Python, "
                "pile: the Pile); test is P = 8, train P in {1, 2, 4}."
            ),
            max_params=4,
            val_rule="",  # derived from the test rule: the largest P in train
            test_rule="parallel_size >= 8",
            log_features=("num_params", "parallel_size"),
            baseline="parallel",
        ),
        TaskSpec(
            name="easy_question_scaling_law",
            features=("log_flops",),
            targets=("brier_score",),
            description=(
                "Performance on the easiest third of a benchmark's questions against training "
                "compute (Wu & Lo 2025, U-shaped and inverted-U scaling behind emergent "
                "abilities). log_flops is log10 of compute in units of 1e21 FLOPs (already a "
                "log, may be negative); brier_score is minus the target-conditioned Brier score "
                "(negative; higher is better). One group per benchmark (nine). The curve is not "
                "monotone: an inverted U, then a second descent; test is each benchmark's runs "
                "at or above its emergence threshold (utils.basic_parameter of the paper's code)."
            ),
            max_params=6,
            val_rule="",  # derived from the test rule: each benchmark's runs next below its threshold
            test_rule=(
                "(group == 'mmlu' and log_flops >= 1.5) or "
                "(group == 'parsinlu_qa_mc' and log_flops >= 2.3) or "
                "(group == 'arithmetic' and log_flops >= 1.8) or "
                "(group == 'hindu_knowledge' and log_flops >= 1) or "
                "(group == 'analogical_similarity' and log_flops >= 2) or "
                "(group == 'conceptual_combinations' and log_flops >= 1.5) or "
                "(group == 'hellaswag' and log_flops >= 2.3) or "
                "(group == 'arc' and log_flops >= 2.3) or "
                "(group == 'abstract_narrative_understanding' and log_flops >= 2.3)"
            ),
            log_features=(),
            baseline="easy_question",
        ),
    ]
}


def task_names() -> list[str]:
    """Names of the built-in tasks."""
    return list(BUILTIN)
