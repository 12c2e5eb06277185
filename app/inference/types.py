"""The contract between whoever produces tokens (local engine, remote OpenAI URL, a remote
Morpheus provider) and whoever shows or forwards them (chat page, HTTP API, provider node)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from app.errors import UserFacingError

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.1
    # OpenAI's: subtracted from a token's logit per time it appeared (frequency) or once if it
    # did (presence), over the last 64 tokens as llama.cpp's penalties sampler counts them
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    grammar: str = ""  # a llama.cpp GBNF grammar the answer must follow (JSON mode); local only


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    model: str = ""


@dataclass(frozen=True)
class DeviceInfo:
    """What the user sees next to the model: where it runs and, if not on a GPU, why."""

    device: str
    n_gpu_layers: int
    gpu_fallback_reason: str
    n_threads: int
    n_slots: int
    n_ctx_per_slot: int
    model: str
    description: str = ""  # one line: "NVIDIA RTX 4070, 12 GB: all 30 layers on the GPU"
    mode: str = "fast"  # the ladder rung: fast, extra_bufts, flash_attn, threads, gpu
    mode_message: str = ""  # "Running in compatibility mode (...): why." or ""

    @staticmethod
    def from_ready(msg: dict[str, Any], mode: str, mode_message: str) -> DeviceInfo:
        """From the child's "ready" message."""
        return DeviceInfo(
            device=msg["device"],
            n_gpu_layers=msg["n_gpu_layers"],
            gpu_fallback_reason=msg["gpu_reason"],
            n_threads=msg["n_threads"],
            n_slots=msg["n_slots"],
            n_ctx_per_slot=msg["n_ctx_per_slot"],
            model=msg["model"],
            description=msg.get("description", ""),
            mode=mode,
            mode_message=mode_message,
        )

    @property
    def summary(self) -> str:
        return f"{self.description} {self.mode_message}".strip()


@dataclass(frozen=True)
class TokenDelta:
    """A piece of the answer as soon as it is decoded."""

    text: str
    # tokens in ``text``: 1 from a local engine; a remote provider may group several per chunk,
    # then this is the consumer's estimate (the exact total comes with ``CompletionDone``)
    tokens: int = 1


@dataclass(frozen=True)
class CompletionMetrics:
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    tokens_per_s: float
    finish_reason: Literal["stop", "length", "cancelled"]
    cached_tokens: int = 0  # prompt tokens reused from the engine's cache (not recomputed)

    def openai_finish_reason(self) -> str:
        """OpenAI's word for how it ended; it has no "cancelled" (nobody is left to read it)."""
        return "length" if self.finish_reason == "length" else "stop"

    def openai_usage(self) -> dict[str, int]:
        """The ``usage`` object of the local API and of MOR-RPC's last chunk alike."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass(frozen=True)
class CompletionDone:
    """The last event of every stream that did not fail."""

    metrics: CompletionMetrics


StreamEvent = TokenDelta | CompletionDone


class ChatEngine(Protocol):
    """Anything that turns a chat request into a stream of tokens.

    Cancelling the consuming task (or closing the async generator) must stop generation promptly.
    Failures raise an ``InferenceError`` subclass.
    """

    def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...

    async def model_names(self) -> list[str]: ...


class InferenceError(UserFacingError):
    """Generation could not run or did not finish."""


class EngineCrashed(InferenceError):
    """The engine's process died mid-request; the next request restarts it."""


class ContextOverflow(InferenceError):
    """The prompt does not fit in the model's context window."""


class ModelLoadError(InferenceError):
    """The model file could not be loaded (corrupt, not GGUF, too large for memory)."""
