"""The LLM proposer: any model behind an OpenAI-compatible chat-completions API.

Modules: ``client`` (async calls, retries, backoff), ``pricing`` (price table,
cost meter), ``ensemble`` (weighted model choice), ``config`` (``LLMConfig``),
``prompts`` (the messages sent), ``edits`` (parsing the answer into a program),
``proposer`` (``LLMProposer``).
"""

from evosld.proposers.llm.client import (
    ChatClient,
    ChatResult,
    is_reasoning_model,
    parse_retry_after,
)
from evosld.proposers.llm.config import LLMConfig, ModelPrice, ModelSpec
from evosld.proposers.llm.ensemble import ModelEnsemble, WeightedModel
from evosld.proposers.llm.pricing import DEFAULT_PRICES, CallCost, CostMeter, Price, PriceTable
from evosld.proposers.llm.proposer import LLMProposer

__all__ = [
    "DEFAULT_PRICES",
    "CallCost",
    "ChatClient",
    "ChatResult",
    "CostMeter",
    "LLMConfig",
    "LLMProposer",
    "ModelEnsemble",
    "ModelPrice",
    "ModelSpec",
    "Price",
    "PriceTable",
    "WeightedModel",
    "is_reasoning_model",
    "parse_retry_after",
]
