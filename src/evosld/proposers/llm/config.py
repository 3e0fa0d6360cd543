"""Configuration of the LLM proposer (validated with pydantic)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, SecretStr, field_validator

from evosld.configmodel import ConfigModel
from evosld.proposers.llm.ensemble import WeightedModel
from evosld.proposers.llm.pricing import Price


class ModelSpec(ConfigModel):
    """One model of the ensemble: its name at the endpoint and its weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)


class ModelPrice(ConfigModel):
    """USD per 1M prompt and completion tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)


class LLMConfig(ConfigModel):
    """How to reach the models and how to ask them.

    Attributes:
        models: the ensemble; plain names are accepted (weight 1).
        api_base: base URL of an OpenAI-compatible API (``.../v1``); default
            ``OPENAI_BASE_URL``, else OpenAI's.
        api_key: default ``OPENAI_API_KEY``; a dummy key is sent when neither
            is set (local servers need none).
        timeout: seconds allowed for one HTTP attempt.
        retries: extra attempts after a retryable failure (429, 5xx, timeout,
            dropped connection, malformed body).
        backoff_base, backoff_max: exponential backoff (seconds) between
            attempts, with jitter; a server's Retry-After takes precedence.
        retry_after_max: longest Retry-After honoured; a longer one ends the call.
        temperature: sampling temperature (not sent to reasoning models).
        max_tokens: completion limit (``max_completion_tokens`` for reasoning
            models, where it includes the hidden reasoning).
        diff_based_evolution: ask for SEARCH/REPLACE diffs instead of full rewrites.
        feedback: when an answer is unusable, tell the model why once and retry.
        prices: USD per 1M tokens per model, on top of the built-in table.
    """

    models: list[ModelSpec] = Field(default_factory=lambda: [ModelSpec(name="gpt-4.1-mini")], min_length=1)
    api_base: str | None = None
    api_key: SecretStr | None = None
    timeout: float = Field(default=120.0, gt=0)
    retries: int = Field(default=3, ge=0)
    backoff_base: float = Field(default=1.0, ge=0)
    backoff_max: float = Field(default=60.0, ge=0)
    retry_after_max: float = Field(default=600.0, ge=0)
    temperature: float = Field(default=0.7, ge=0)
    max_tokens: int = Field(default=8192, gt=0)
    diff_based_evolution: bool = False
    feedback: bool = True
    prices: dict[str, ModelPrice] = Field(default_factory=dict)

    @field_validator("models", mode="before")
    @classmethod
    def _names_are_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("prices", mode="before")
    @classmethod
    def _pairs_are_prices(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: {"prompt": v[0], "completion": v[1]} if isinstance(v, (list, tuple)) else v
                for k, v in value.items()
            }
        return value

    def weighted_models(self) -> list[WeightedModel]:
        """The ensemble as ``WeightedModel`` records."""
        return [WeightedModel(m.name, m.weight) for m in self.models]

    def price_overrides(self) -> dict[str, Price]:
        """``prices`` as ``Price`` records for ``PriceTable``."""
        return {k: Price(v.prompt, v.completion) for k, v in self.prices.items()}
