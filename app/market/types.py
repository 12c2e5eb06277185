"""Domain types of the Morpheus marketplace, as the program sees them on chain.

Conventions, used everywhere so values compare and hash without surprises:
- money and stakes are ``int`` wei; times are Unix seconds (``int``);
- ids (model, bid, session, CID) are lowercase ``0x``-hex ``str`` of 32 bytes;
- addresses are checksummed ``str``.
The dataclasses are frozen: a snapshot read from chain must not be edited in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ZERO_ID = "0x" + "00" * 32


def id_hex(value: bytes | str) -> str:
    """Normalise a 32-byte id (bytes or hex) to lowercase ``0x`` hex."""
    if isinstance(value, bytes | bytearray):
        if len(value) != 32:
            raise ValueError(f"an id is 32 bytes, got {len(value)}")
        return "0x" + bytes(value).hex()
    text = value.lower()
    if not text.startswith("0x"):
        text = "0x" + text
    if len(text) != 66:
        raise ValueError(f"an id is 32 bytes (64 hex digits), got {value!r}")
    int(text, 16)
    return text


def id_bytes(value: bytes | str) -> bytes:
    """The 32 raw bytes of an id given as hex or bytes."""
    return bytes.fromhex(id_hex(value)[2:])


class _Registered:
    """What a provider and a model share: registered once (``created_at``), deregistered by a
    flag. Declared here, stored by each dataclass."""

    created_at: int
    is_deleted: bool

    @property
    def exists(self) -> bool:
        return self.created_at != 0

    @property
    def is_active(self) -> bool:
        return self.created_at != 0 and not self.is_deleted


@dataclass(frozen=True)
class Provider(_Registered):
    address: str
    endpoint: str
    stake: int
    created_at: int
    limit_period_end: int
    limit_period_earned: int
    is_deleted: bool


@dataclass(frozen=True)
class Model(_Registered):
    id: str
    ipfs_cid: str
    fee: int
    stake: int
    owner: str
    name: str
    tags: tuple[str, ...]
    created_at: int
    is_deleted: bool


@dataclass(frozen=True)
class Bid:
    id: str
    provider: str
    model_id: str
    price_per_second: int
    nonce: int
    created_at: int
    deleted_at: int

    @property
    def is_active(self) -> bool:
        return self.created_at != 0 and self.deleted_at == 0


@dataclass(frozen=True)
class Session:
    id: str
    user: str
    bid_id: str
    stake: int
    closeout_receipt: bytes
    closeout_type: int
    provider_withdrawn_amount: int
    opened_at: int
    ends_at: int
    closed_at: int
    is_active: bool
    is_direct_payment: bool

    @property
    def exists(self) -> bool:
        """The contract reads unknown sessions back as zeros; the node uses this same test."""
        return not (self.user == ZERO_ADDRESS and self.ends_at == 0 and self.opened_at == 0)

    @property
    def is_closed(self) -> bool:
        return self.closed_at != 0

    @property
    def disputed(self) -> bool:
        return self.closeout_type == 1


@dataclass(frozen=True)
class SD:
    """LibSD running statistic: Welford mean and sum of squares, both int64 on chain."""

    mean: int
    sq_sum: int


@dataclass(frozen=True)
class ProviderModelStats:
    tps_scaled1000: SD
    ttft_ms: SD
    total_duration: int
    success_count: int
    total_count: int


@dataclass(frozen=True)
class ModelStats:
    tps_scaled1000: SD
    ttft_ms: SD
    total_duration: SD
    count: int


EMPTY_SD = SD(0, 0)
EMPTY_PROVIDER_MODEL_STATS = ProviderModelStats(EMPTY_SD, EMPTY_SD, 0, 0, 0)
EMPTY_MODEL_STATS = ModelStats(EMPTY_SD, EMPTY_SD, EMPTY_SD, 0)


@dataclass(frozen=True)
class Pool:
    """A reward pool's schedule (``getPool``; the formulas in ``app.market.economics``)."""

    initial_reward: int
    reward_decrease: int
    payout_start: int
    decrease_interval: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        """ABI tuple order ``(initialReward, rewardDecrease, payoutStart, decreaseInterval)``."""
        return (
            self.initial_reward, self.reward_decrease, self.payout_start, self.decrease_interval
        )


@dataclass(frozen=True)
class OnHold:
    """``getUserStakesOnHold``: what can be withdrawn now and what is still locked."""

    available: int
    hold: int


@dataclass(frozen=True)
class MarketParams:
    """The owner-set knobs a client must read live instead of hard-coding."""

    provider_min_stake: int
    model_min_stake: int
    bid_fee: int
    min_price_per_second: int
    max_price_per_second: int
    max_session_duration: int


@dataclass(frozen=True)
class MarketSnapshot:
    """Everything the consumer's marketplace view needs, read in one go.

    ``provider_model_stats`` is keyed by ``(model_id, provider address)``.
    """

    models: tuple[Model, ...]
    bids: tuple[Bid, ...]
    providers: dict[str, Provider] = field(default_factory=dict)
    model_stats: dict[str, ModelStats] = field(default_factory=dict)
    provider_model_stats: dict[tuple[str, str], ProviderModelStats] = field(default_factory=dict)
    params: MarketParams | None = None

    def bids_for_model(self, model_id: str) -> list[Bid]:
        mid = id_hex(model_id)
        return [b for b in self.bids if b.model_id == mid]

    def model(self, model_id: str) -> Model | None:
        mid = id_hex(model_id)
        return next((m for m in self.models if m.id == mid), None)
