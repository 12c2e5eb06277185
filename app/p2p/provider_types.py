"""The provider node's settings, the events it reports to its session ledger, and its counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.p2p.crypto import Receipt


@dataclass(frozen=True)
class ProviderLimits:
    """Bounds on what one stranger can make the node do. Go sets none of them; each one here
    answers an attack a Go node has no defence against, and is wide enough for real Go peers."""

    max_message_bytes: int = 32 << 20  # Go has no limit; a long prompt must not be cut off
    max_depth: int = 512  # JSON nesting; Go allows 10 000, real messages need about 6
    read_timeout_s: float = 60.0  # a whole request must arrive within this
    idle_timeout_s: float = 10.0  # longest silence between two reads
    write_timeout_s: float = 30.0  # a client that stops reading is dropped
    max_connections: int = 512
    max_unauthenticated_per_ip: int = 64  # connections still sending or being checked, per IP
    max_sessions: int = 8  # sessions served at once (opened on chain and prompted)
    rate_per_s: float = 200.0  # requests per second per IP: a ceiling for gateways
    rate_burst: int = 400
    user_rate_per_s: float = 10.0  # authenticated requests per second per user address
    user_rate_burst: int = 30
    max_queued_per_session: int = 4  # prompts waiting for a session's one inference slot
    timestamp_window_ms: int | None = None  # None: like Go, any clock is accepted
    replay_memory: int = 200_000  # signatures remembered to refuse replays
    request_replay_ttl_s: float = 3600.0  # how long a session.request signature is remembered
    approval_ttl_s: int = 600
    max_tokens: int = 1024  # cap on one answer's length


@dataclass(frozen=True)
class ProviderConfig:
    chain_id: int
    model_name: str = "local"
    version: str = "morpheus-desktop/0.1.0"
    host: str = "127.0.0.1"
    port: int = 0
    contract_timestamp_unit: Literal["s", "ms"] = "s"
    # the wallet whose bids are served; None: the signing key's own. With a separate hot key,
    # that key must be authorised by this wallet on chain (§4.3) or openSession will revert.
    provider_address: str | None = None
    limits: ProviderLimits = field(default_factory=ProviderLimits)
    # tokens arriving within this long of the last chunk share the next one (never delayed
    # longer); 0: one chunk per token, as a Go provider behind llama-server sends
    stream_interval_ms: int = 50


# ---------------------------------------------------------------- events for the session ledger


@dataclass(frozen=True)
class ApprovalIssued:
    user: str
    bid_id: bytes
    approval: bytes
    approval_sig: bytes
    user_key: bytes = b""  # persist it and pass it back as ``user_keys`` after a restart


@dataclass(frozen=True)
class PromptServed:
    session_id: bytes
    user: str
    bid_id: bytes
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: int
    tps_scaled1000: int
    completed: bool  # False when the client left or the engine failed


@dataclass(frozen=True)
class ReceiptIssued:
    session_id: bytes
    user: str
    bid_id: bytes
    receipt: Receipt
    signature: bytes


@dataclass(frozen=True)
class SessionFailed:
    """The consumer asked for a receipt of a session whose inference failed: none was signed."""

    session_id: bytes
    user: str
    bid_id: bytes
    failed_prompts: int


ProviderEvent = ApprovalIssued | PromptServed | ReceiptIssued | SessionFailed


@dataclass
class ProviderStats:
    connections: int = 0
    refused_busy: int = 0
    refused_rate: int = 0
    dropped_bad_input: int = 0
    error_replies: int = 0
    inferences: int = 0
    chain_reads: int = 0
