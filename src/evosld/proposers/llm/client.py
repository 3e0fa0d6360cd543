"""An async chat-completions caller for any OpenAI-compatible endpoint.

It wraps ``openai.AsyncOpenAI`` with the SDK's own retries switched off, so the
retries here are the only ones and every attempt is counted. Retryable faults:
429 (Retry-After honoured, seconds or HTTP date), 408/409/5xx, timeouts,
dropped connections and malformed response bodies; they are retried with
exponential backoff and jitter. Other faults (bad request, authentication,
unknown model) end the call at once. A call never raises for an API fault: it
returns a ``ChatResult`` whose ``status`` says what happened.

Reasoning models (o1, o3, o4-mini, gpt-5...) get ``max_completion_tokens`` and
no temperature. If a server rejects a token-limit or temperature parameter with
a 400, the call is repeated once with the other token-limit parameter (or
without temperature), and the working form is remembered for that model.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import openai

if TYPE_CHECKING:
    from evosld.proposers.llm.config import LLMConfig

#: Key sent when none is configured: local servers (vLLM, Ollama, llama.cpp) need none.
DUMMY_API_KEY = "sk-no-key-required"
#: HTTP statuses worth another attempt.
RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))

Sleep = Callable[[float], Awaitable[None]]


def is_reasoning_model(model: str) -> bool:
    """True for OpenAI reasoning models (o1, o3, o4-mini, gpt-5...), any ``provider/`` prefix."""
    name = model.rsplit("/", 1)[-1].lower()
    return bool(re.match(r"^o\d+(?:$|[-_.:])", name)) or name.startswith("gpt-5")


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date).

    Args:
        headers: response headers (case-insensitive mapping or plain dict).
        now: current UNIX time for HTTP dates (default: ``time.time()``).
    """
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(when.timestamp() - now, 0.0)


@dataclass
class ChatResult:
    """The outcome of one chat call (all its attempts).

    Attributes:
        model: the model asked.
        content: the answer text (None if the call failed or the model gave none).
        finish_reason: the API's finish reason (``stop``, ``length``...).
        prompt_tokens, completion_tokens, reasoning_tokens: usage of the answer
            (reasoning tokens are part of completion tokens).
        latency_s: wall time of the whole call, retries and waits included.
        attempts: HTTP requests made.
        status: ``ok`` or the last fault: ``rate_limited``, ``server_error``,
            ``timeout``, ``connection_error``, ``malformed_response``,
            ``bad_request``, ``auth_error``, ``not_found``, ``http_error``, ``error``.
        error: what went wrong (None when ok).
        faults: one line per failed attempt, in order.
        waits: seconds slept before each retry.
    """

    model: str
    content: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    latency_s: float = 0.0
    attempts: int = 0
    status: str = "ok"
    error: str | None = None
    faults: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class CallActivity:
    """The calls in flight, for a progress display: since when each waits, and what it retries after."""

    calls: dict[int, tuple[float, int, str | None]] = field(default_factory=dict)  # id -> (since, attempt, fault)

    def describe(self, now: float, retries: int) -> str | None:
        """``waiting for the LLM: 2 calls, 35 s; retrying (attempt 2 of 4) after: ...``, or None when idle."""
        if not self.calls:
            return None
        since, attempt, fault = max(self.calls.values(), key=lambda c: (c[1], -c[0]))
        oldest = min(c[0] for c in self.calls.values())
        n = len(self.calls)
        line = f"waiting for the LLM: {n} call{'s' if n > 1 else ''}, {now - oldest:.0f} s"
        if attempt > 1:
            line += f"; retrying (attempt {attempt} of {retries + 1}) after: {fault}"
        return line


@dataclass(frozen=True)
class _Fault:
    status: str
    message: str
    retryable: bool
    retry_after: float | None = None
    http_status: int | None = None


class _Malformed(Exception):
    """The server answered 2xx with a body that is not a chat completion."""


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(exc.message or exc)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class ChatClient:
    """Chat completions with counted retries, backoff and token accounting.

    Args:
        base_url: API base URL (``.../v1``); default ``OPENAI_BASE_URL``, else OpenAI's.
        api_key: default ``OPENAI_API_KEY``, else a dummy key (for local servers).
        timeout: seconds allowed for one attempt.
        retries: extra attempts after retryable faults.
        backoff_base, backoff_max: delay before retry k is
            ``min(backoff_max, backoff_base * 2**k)`` scaled by a jitter in [0.5, 1].
        retry_after_max: a Retry-After longer than this ends the call.
        rng: source of jitter (seeded for reproducible waits).
        sleep: awaitable sleep (inject a fake in tests).
        clock: monotonic clock for latency; ``wall_clock``: UNIX time for HTTP dates.
        openai_client: an ``AsyncOpenAI`` to use instead of building one (its own
            retries should be off).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: float = 600.0,
        rng: random.Random | None = None,
        sleep: Sleep | None = None,
        clock: Callable[[], float] | None = None,
        wall_clock: Callable[[], float] | None = None,
        openai_client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.retry_after_max = float(retry_after_max)
        self._rng = rng if rng is not None else random.Random(0)
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._clock = clock if clock is not None else time.monotonic
        self._wall_clock = wall_clock if wall_clock is not None else time.time
        if openai_client is None:
            base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
            api_key = api_key or os.environ.get("OPENAI_API_KEY") or DUMMY_API_KEY
            openai_client = openai.AsyncOpenAI(
                base_url=base_url, api_key=api_key, max_retries=0, timeout=self.timeout
            )
            self._owns_client = True
        else:
            self._owns_client = False
            api_key = api_key or getattr(openai_client, "api_key", None)
        self._api_key = api_key if isinstance(api_key, str) else None
        self._client = openai_client
        self.activity = CallActivity()
        # What each model turned out to accept (learnt from 400 answers).
        self._token_param: dict[str, str] = {}
        self._no_temperature: set[str] = set()

    @classmethod
    def from_config(cls, config: LLMConfig, *, seed: int = 0, **kwargs: Any) -> ChatClient:
        """A client built from an ``LLMConfig``; ``kwargs`` override (e.g. ``sleep``)."""
        options: dict[str, Any] = {
            "base_url": config.api_base,
            "api_key": config.api_key.get_secret_value() if config.api_key is not None else None,
            "timeout": config.timeout,
            "retries": config.retries,
            "backoff_base": config.backoff_base,
            "backoff_max": config.backoff_max,
            "retry_after_max": config.retry_after_max,
            "rng": random.Random(f"evosld-backoff:{seed}"),
        }
        options.update(kwargs)
        return cls(**options)

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    async def aclose(self) -> None:
        """Close the HTTP connections (only if this client built them)."""
        if self._owns_client:
            await self._client.close()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- parameters ---------------------------------------------------
    def request_params(self, model: str, temperature: float | None, max_tokens: int | None) -> dict[str, Any]:
        """The sampling parameters sent for ``model``."""
        reasoning = is_reasoning_model(model)
        params: dict[str, Any] = {}
        if max_tokens is not None:
            key = self._token_param.get(model, "max_completion_tokens" if reasoning else "max_tokens")
            params[key] = int(max_tokens)
        if temperature is not None and not reasoning and model not in self._no_temperature:
            params["temperature"] = float(temperature)
        return params

    def _adjusted(self, model: str, params: dict[str, Any], message: str) -> dict[str, Any] | None:
        """Parameters fixed after a 400 naming one of them, or None if it named none."""
        text = message.lower()
        if not any(w in text for w in ("unsupported", "not supported", "not allowed", "unrecognized",
                                       "unknown", "extra", "invalid", "does not support", "instead")):
            return None
        for sent, other in (("max_tokens", "max_completion_tokens"), ("max_completion_tokens", "max_tokens")):
            # 'max_tokens' is a substring of 'max_completion_tokens': test the longer name alone.
            named = re.search(rf"(?<![\w]){sent}(?![\w])", text) is not None
            if sent in params and named:
                fixed = {k: v for k, v in params.items() if k != sent}
                fixed[other] = params[sent]
                self._token_param[model] = other
                return fixed
        if "temperature" in params and "temperature" in text:
            self._no_temperature.add(model)
            return {k: v for k, v in params.items() if k != "temperature"}
        return None

    # ---- faults -------------------------------------------------------
    def _classify(self, exc: BaseException) -> _Fault:
        if isinstance(exc, (openai.APITimeoutError, asyncio.TimeoutError)):
            return _Fault("timeout", f"no answer within {self.timeout:g} s", True)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            detail = f": {type(cause).__name__}" if cause is not None else ""
            return _Fault("connection_error", f"connection failed{detail}", True)
        if isinstance(exc, openai.APIResponseValidationError):
            return _Fault("malformed_response", f"malformed response: {exc.message}", True)
        if isinstance(exc, openai.APIStatusError):
            code = exc.status_code
            text = _error_text(exc)
            if code == 429:
                wait = parse_retry_after(exc.response.headers, self._wall_clock())
                return _Fault("rate_limited", f"HTTP 429 rate limited: {text}", True, wait, code)
            if code in RETRY_STATUSES:
                wait = parse_retry_after(exc.response.headers, self._wall_clock())
                status = "server_error" if code >= 500 else "http_error"
                return _Fault(status, f"HTTP {code}: {text}", True, wait, code)
            if code in (401, 403):
                return _Fault("auth_error", f"HTTP {code} authentication failed (check the API key): {text}", False, None, code)
            if code == 404:
                return _Fault("not_found", f"HTTP 404 (unknown model or wrong base URL): {text}", False, None, code)
            if code in (400, 422):
                return _Fault("bad_request", f"HTTP {code} bad request: {text}", False, None, code)
            return _Fault("http_error", f"HTTP {code}: {text}", False, None, code)
        if isinstance(exc, (_Malformed, json.JSONDecodeError)):
            return _Fault("malformed_response", f"malformed response: {exc}", True)
        return _Fault("error", f"{type(exc).__name__}: {exc}", False)

    def _redact(self, text: str) -> str:
        """``text`` with the API key masked (error messages end up in the run store)."""
        key = self._api_key
        return text.replace(key, "***") if key and len(key) >= 8 else text

    def _backoff(self, failures: int, retry_after: float | None) -> float | None:
        """Seconds before the next attempt, or None when the server asks for too long."""
        if retry_after is not None:
            return None if retry_after > self.retry_after_max else retry_after
        delay = min(self.backoff_max, self.backoff_base * (2.0**failures))
        return delay * (0.5 + 0.5 * self._rng.random())

    # ---- the call -----------------------------------------------------
    @staticmethod
    def _read(completion: Any, result: ChatResult) -> None:
        choices = getattr(completion, "choices", None)
        if not choices:
            raise _Malformed("the body has no choices")
        message = getattr(choices[0], "message", None)
        if message is None:
            raise _Malformed("the first choice has no message")
        content = getattr(message, "content", None)
        if content is not None and not isinstance(content, str):
            raise _Malformed("the message content is not text")
        result.content = content
        result.finish_reason = getattr(choices[0], "finish_reason", None)
        usage = getattr(completion, "usage", None)
        if usage is not None:
            result.prompt_tokens = _int(getattr(usage, "prompt_tokens", 0))
            result.completion_tokens = _int(getattr(usage, "completion_tokens", 0))
            details = getattr(usage, "completion_tokens_details", None)
            result.reasoning_tokens = _int(getattr(details, "reasoning_tokens", 0)) if details else 0

    async def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, str]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        """Ask ``model`` once (with retries); never raises for API faults.

        Args:
            model: model name at the endpoint.
            messages: ``[{"role": ..., "content": ...}, ...]``.
            temperature: sampling temperature (dropped for reasoning models).
            max_tokens: completion limit (sent as ``max_completion_tokens`` to
                reasoning models).
        """
        try:
            return await self._chat(model, messages, temperature, max_tokens)
        finally:
            self.activity.calls.pop(id(asyncio.current_task()), None)

    def describe_activity(self) -> str | None:
        """What the calls in flight are doing (waiting, retrying), or None when none is."""
        return self.activity.describe(self._clock(), self.retries)

    async def _chat(self, model: str, messages: Sequence[Mapping[str, str]], temperature: float | None,
                    max_tokens: int | None) -> ChatResult:
        result = ChatResult(model=model)
        params = self.request_params(model, temperature, max_tokens)
        failures = 0
        adjusted = False
        start = self._clock()
        key = id(asyncio.current_task())
        while True:
            result.attempts += 1
            self.activity.calls[key] = (start, result.attempts, result.faults[-1] if result.faults else None)
            try:
                completion = await asyncio.wait_for(
                    self._client.chat.completions.create(
                        model=model, messages=list(messages), timeout=self.timeout, **params
                    ),
                    timeout=self.timeout,
                )
                self._read(completion, result)
            except Exception as exc:  # every fault becomes a status
                fault = self._classify(exc)
                fault = replace(fault, message=self._redact(fault.message))
            else:
                result.status, result.error = "ok", None
                result.latency_s = self._clock() - start
                return result
            result.faults.append(fault.message)
            if fault.status == "bad_request" and not adjusted:
                fixed = self._adjusted(model, params, fault.message)
                if fixed is not None:
                    adjusted, params = True, fixed
                    continue
            delay = self._backoff(failures, fault.retry_after) if fault.retryable else None
            if not fault.retryable or failures >= self.retries or delay is None:
                result.status, result.error = fault.status, fault.message
                if fault.retryable and delay is None and failures < self.retries:
                    result.error += f" (server asked to wait {fault.retry_after:g} s; longer than retry_after_max)"
                elif fault.retryable:
                    result.error += f" (gave up after {result.attempts} attempts)"
                result.latency_s = self._clock() - start
                return result
            failures += 1
            result.waits.append(delay)
            self.activity.calls[key] = (start, result.attempts + 1, fault.message)
            await self._sleep(delay)
