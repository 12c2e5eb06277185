"""The slice of the Diamond, ERC-20 and Multicall3 ABIs the program uses, as typed signatures.

Kept as text signatures (not a JSON blob loaded from the devnet build) because the live Diamond
is the contract of record: these must match spec §2, and a test checks them against both the
spec's selectors and the devnet artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_canonical_address, to_checksum_address

PROVIDER_T = "(string,uint256,uint128,uint128,uint256,bool)"
MODEL_T = "(bytes32,uint256,uint256,address,string,string[],uint128,bool)"
BID_T = "(address,bytes32,uint256,uint256,uint128,uint128)"
SESSION_T = "(address,bytes32,uint256,bytes,uint256,uint256,uint128,uint128,uint128,bool,bool)"
POOL_T = "(uint256,uint256,uint128,uint128)"
SD_T = "(int64,int64)"
PM_STATS_T = f"({SD_T},{SD_T},uint32,uint32,uint32)"
MODEL_STATS_T = f"({SD_T},{SD_T},{SD_T},uint32)"


def split_types(types: str) -> list[str]:
    """Split a comma-separated type list at the top level only: "a,(b,c),d" -> 3 items."""
    out: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(types):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(types[start:i])
            start = i + 1
    tail = types[start:]
    if tail:
        out.append(tail)
    return out


# --- fast paths --------------------------------------------------------------------------
# eth_abi validates every pointer and is ~1 ms per struct; loading a marketplace decodes
# thousands. Static types (fixed-size tuples of elementary types) and the Multicall3 envelope
# are simple enough to (de)code by hand; everything else goes through eth_abi.

TypeTree = str | tuple["TypeTree", ...]


@lru_cache(maxsize=8192)
def checksum(address: str | bytes) -> str:
    """Checksummed address, cached: a market repeats a few hundred addresses thousands of
    times and EIP-55 hashing each one again dominates the decode time."""
    return str(to_checksum_address(address))


@lru_cache(maxsize=8192)
def canonical(address: str) -> bytes:
    return bytes(to_canonical_address(address))


def parse_type(t: str) -> TypeTree:
    """"(a,(b,c))" -> ("a", ("b", "c")); elementary types stay strings."""
    if t.startswith("(") and t.endswith(")"):
        return tuple(parse_type(x) for x in split_types(t[1:-1]))
    return t


def _is_static(tree: TypeTree) -> bool:
    if isinstance(tree, tuple):
        return all(_is_static(x) for x in tree)
    return tree in ("address", "bool") or (
        "[" not in tree and (tree.startswith(("uint", "int")) or (
            tree.startswith("bytes") and tree != "bytes")))


def _word_count(tree: TypeTree) -> int:
    return sum(_word_count(x) for x in tree) if isinstance(tree, tuple) else 1


def _decode_word(t: str, w: bytes) -> Any:
    if t.startswith("uint"):
        return int.from_bytes(w, "big")
    if t.startswith("int"):
        return int.from_bytes(w, "big", signed=True)
    if t == "address":
        return checksum(w[12:])
    if t == "bool":
        return w[-1] != 0
    return w[: int(t[5:])]  # bytesN


def _is_dynamic(tree: TypeTree) -> bool:
    if isinstance(tree, tuple):
        return any(_is_dynamic(x) for x in tree)
    return tree in ("string", "bytes") or tree.endswith("[]")


def _supported(tree: TypeTree) -> bool:
    """Everything but fixed-size arrays ``T[k]``, which this ABI does not use."""
    if isinstance(tree, tuple):
        return all(_supported(x) for x in tree)
    if tree.endswith("[]"):
        return _supported(parse_type(tree[:-2]))
    return "[" not in tree


def _word(data: bytes, pos: int) -> int:
    if pos < 0 or pos + 32 > len(data):
        raise ValueError(f"ABI data too short: need {pos + 32} bytes, have {len(data)}")
    return int.from_bytes(data[pos : pos + 32], "big")


def _decode_tuple(children: tuple[TypeTree, ...], data: bytes, base: int) -> tuple[Any, ...]:
    out: list[Any] = []
    pos = base
    for child in children:
        if _is_dynamic(child):
            out.append(_decode_value(child, data, base + _word(data, pos)))
            pos += 32
        else:
            words = _word_count(child)
            _word(data, pos + 32 * words - 32)  # bounds check
            out.append(_static_decoder((child,))(data[pos : pos + 32 * words])[0])
            pos += 32 * words
    return tuple(out)


def _decode_value(tree: TypeTree, data: bytes, start: int) -> Any:
    """Decode a (dynamic) value whose encoding begins at ``start``."""
    if isinstance(tree, tuple):
        return _decode_tuple(tree, data, start)
    if tree in ("string", "bytes"):
        n = _word(data, start)
        if start + 32 + n > len(data):
            raise ValueError("ABI string/bytes runs past the end of the data")
        raw = data[start + 32 : start + 32 + n]
        return raw.decode("utf-8", errors="replace") if tree == "string" else raw
    if tree.endswith("[]"):
        elem = parse_type(tree[:-2])
        n = _word(data, start)
        if n > len(data):
            raise ValueError("ABI array length is not plausible")
        base = start + 32
        if _is_dynamic(elem):
            return [_decode_value(elem, data, base + _word(data, base + 32 * i))
                    for i in range(n)]
        size = 32 * _word_count(elem)
        if n:
            _word(data, base + size * n - 32)  # bounds check
        dec = _static_decoder((elem,))
        return [dec(data[base + size * i : base + size * (i + 1)])[0] for i in range(n)]
    _word(data, start)
    return _decode_word(tree, data[start : start + 32])


def _encode_word(t: str, v: Any) -> bytes:
    if t.startswith("uint"):
        return int(v).to_bytes(32, "big")
    if t.startswith("int"):
        return int(v).to_bytes(32, "big", signed=True)
    if t == "address":
        return b"\x00" * 12 + canonical(v)
    if t == "bool":
        return (1 if v else 0).to_bytes(32, "big")
    raw = bytes(v)
    return raw + b"\x00" * (32 - len(raw))  # bytesN, left-aligned


def _pad32(b: bytes) -> bytes:
    return b + b"\x00" * (-len(b) % 32)


def encode_aggregate3(calls: list[tuple[str, bool, bytes]]) -> bytes:
    """Calldata of ``aggregate3((address,bool,bytes)[])``, built directly."""
    n = len(calls)
    heads: list[bytes] = []
    tails: list[bytes] = []
    offset = 32 * n
    for target, allow_failure, data in calls:
        heads.append(offset.to_bytes(32, "big"))
        tail = (b"\x00" * 12 + canonical(target)
                + (1 if allow_failure else 0).to_bytes(32, "big")
                + (96).to_bytes(32, "big") + len(data).to_bytes(32, "big") + _pad32(data))
        tails.append(tail)
        offset += len(tail)
    body = (32).to_bytes(32, "big") + n.to_bytes(32, "big") + b"".join(heads) + b"".join(tails)
    return MULTICALL3_AGGREGATE3_SELECTOR + body


def decode_aggregate3(data: bytes) -> list[tuple[bool, bytes]]:
    """Return data of ``aggregate3``: ``(bool success, bytes returnData)[]``."""
    def word(pos: int) -> int:
        return int.from_bytes(data[pos : pos + 32], "big")

    base = word(0)
    n = word(base)
    elems = base + 32
    out: list[tuple[bool, bytes]] = []
    for i in range(n):
        start = elems + word(elems + 32 * i)
        ok = word(start) != 0
        bstart = start + word(start + 32)
        length = word(bstart)
        out.append((ok, data[bstart + 32 : bstart + 32 + length]))
    return out


MULTICALL3_AGGREGATE3_SELECTOR = keccak(text="aggregate3((address,bool,bytes)[])")[:4]


@dataclass(frozen=True)
class Fn:
    signature: str
    outputs: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.signature[: self.signature.index("(")]

    @property
    def inputs(self) -> list[str]:
        return split_types(self.signature[self.signature.index("(") + 1 : -1])

    @property
    def selector(self) -> bytes:
        return keccak(text=self.signature)[:4]

    def encode(self, *args: Any) -> bytes:
        inputs, static = _input_plan(self.signature)
        if static and len(args) == len(inputs):
            return _selector(self.signature) + b"".join(
                _encode_word(t, a) for t, a in zip(inputs, args, strict=True))
        return _selector(self.signature) + abi_encode(self.inputs, list(args))

    def decode(self, data: bytes) -> tuple[Any, ...]:
        """Decode return data; raises ``ValueError`` on data that does not fit the types."""
        tree, static, words, supported = _output_plan(self.outputs)
        if static:
            if words:
                _word(data, 32 * words - 32)  # bounds check
            return tuple(_static_decoder(tree)(data))
        if supported:
            return _decode_tuple(tree, data, 0)
        return tuple(abi_decode(list(self.outputs), data))


def _converter(t: str) -> Any:
    if t.startswith("uint"):
        return lambda w: int.from_bytes(w, "big")
    if t.startswith("int"):
        return lambda w: int.from_bytes(w, "big", signed=True)
    if t == "address":
        return lambda w: checksum(w[12:])
    if t == "bool":
        return lambda w: w[-1] != 0
    size = int(t[5:])
    return lambda w: w[:size]


def _flatten(tree: TypeTree) -> list[str]:
    return [x for sub in tree for x in _flatten(sub)] if isinstance(tree, tuple) else [tree]


@cache
def _static_decoder(tree: tuple[TypeTree, ...]) -> Any:
    """A decoder for one static type tree: convert every word, then re-nest the tuples."""
    convs = [_converter(t) for t in _flatten(tree)]
    n = len(convs)
    flat = all(isinstance(t, str) for t in tree)

    def nest(sub: TypeTree, it: Any) -> Any:
        if isinstance(sub, tuple):
            return tuple(nest(x, it) for x in sub)
        return next(it)

    def decode(data: bytes) -> tuple[Any, ...]:
        values = [c(data[32 * i : 32 * i + 32]) for i, c in zip(range(n), convs, strict=True)]
        if flat:
            return tuple(values)
        result: tuple[Any, ...] = nest(tree, iter(values))
        return result

    return decode


@cache
def _input_plan(signature: str) -> tuple[tuple[str, ...], bool]:
    """Input types, and whether all are elementary static types (fast-path encodable)."""
    types = tuple(split_types(signature[signature.index("(") + 1 : -1]))
    return types, all(not t.startswith("(") and _is_static(t) for t in types)


@cache
def _output_plan(outputs: tuple[str, ...]) -> tuple[tuple[TypeTree, ...], bool, int, bool]:
    tree = tuple(parse_type(t) for t in outputs)
    return tree, _is_static(tree), _word_count(tree), _supported(tree)


@cache
def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _fn(signature: str, *outputs: str) -> Fn:
    return Fn(signature, tuple(outputs))


DIAMOND: dict[str, Fn] = {
    f.name: f
    for f in (
        # ProviderRegistry / storage
        _fn("providerRegister(address,uint256,string)"),
        _fn("providerDeregister(address)"),
        _fn("getProvider(address)", PROVIDER_T),
        _fn("getProviderMinimumStake()", "uint256"),
        _fn("getActiveProviders(uint256,uint256)", "address[]", "uint256"),
        _fn("getIsProviderActive(address)", "bool"),
        # ModelRegistry / storage
        _fn("modelRegister(address,bytes32,bytes32,uint256,uint256,string,string[])"),
        _fn("modelDeregister(bytes32)"),
        _fn("getModelId(address,bytes32)", "bytes32"),
        _fn("getModel(bytes32)", MODEL_T),
        _fn("getModelIds(uint256,uint256)", "bytes32[]", "uint256"),
        _fn("getActiveModelIds(uint256,uint256)", "bytes32[]", "uint256"),
        _fn("getModelMinimumStake()", "uint256"),
        _fn("getIsModelActive(bytes32)", "bool"),
        # Marketplace / bid storage
        _fn("postModelBid(address,bytes32,uint256)", "bytes32"),
        _fn("deleteModelBid(bytes32)"),
        _fn("getBidId(address,bytes32,uint256)", "bytes32"),
        _fn("getProviderModelId(address,bytes32)", "bytes32"),
        _fn("getBidFee()", "uint256"),
        _fn("getFeeBalance()", "uint256"),
        _fn("getMinMaxBidPricePerSecond()", "uint256", "uint256"),
        _fn("getBid(bytes32)", BID_T),
        _fn("getProviderActiveBids(address,uint256,uint256)", "bytes32[]", "uint256"),
        _fn("getModelActiveBids(bytes32,uint256,uint256)", "bytes32[]", "uint256"),
        _fn("getProviderBids(address,uint256,uint256)", "bytes32[]", "uint256"),
        _fn("getModelBids(bytes32,uint256,uint256)", "bytes32[]", "uint256"),
        _fn("getToken()", "address"),
        _fn("isBidActive(bytes32)", "bool"),
        # SessionRouter / storage / stats
        _fn("openSession(address,uint256,bool,bytes,bytes)", "bytes32"),
        _fn("closeSession(bytes,bytes)"),
        _fn("claimForProvider(bytes32)"),
        _fn("withdrawUserStakes(address,uint8)"),
        _fn("getUserStakesOnHold(address,uint8)", "uint256", "uint256"),
        _fn("getSessionId(address,address,bytes32,uint256)", "bytes32"),
        _fn("getSessionEnd(uint256,uint256,uint128)", "uint128"),
        _fn("stakeToStipend(uint256,uint128)", "uint256"),
        _fn("stipendToStake(uint256,uint128)", "uint256"),
        _fn("getTodaysBudget(uint128)", "uint256"),
        _fn("getComputeBalance(uint128)", "uint256"),
        _fn("totalMORSupply(uint128)", "uint256"),
        _fn("startOfTheDay(uint128)", "uint128"),
        _fn("getSession(bytes32)", SESSION_T),
        _fn("getUserSessions(address,uint256,uint256)", "bytes32[]", "uint256"),
        _fn("getProviderSessions(address,uint256,uint256)", "bytes32[]", "uint256"),
        _fn("getModelSessions(bytes32,uint256,uint256)", "bytes32[]", "uint256"),
        _fn("getPools()", f"{POOL_T}[]"),
        _fn("getPool(uint256)", POOL_T),
        _fn("getFundingAccount()", "address"),
        _fn("getTotalSessions(address)", "uint256"),
        _fn("getProvidersTotalClaimed()", "uint256"),
        _fn("getIsProviderApprovalUsed(bytes)", "bool"),
        _fn("getMaxSessionDuration()", "uint128"),
        _fn("getProviderModelStats(bytes32,address)", PM_STATS_T),
        _fn("getModelStats(bytes32)", MODEL_STATS_T),
        # Delegation and ownership
        _fn("isRightsDelegated(address,address,bytes32)", "bool"),
        _fn("getRegistry()", "address"),
        _fn("owner()", "address"),
    )
}

ERC20: dict[str, Fn] = {
    f.name: f
    for f in (
        _fn("balanceOf(address)", "uint256"),
        _fn("allowance(address,address)", "uint256"),
        _fn("approve(address,uint256)", "bool"),
        _fn("transfer(address,uint256)", "bool"),
        _fn("totalSupply()", "uint256"),
        _fn("decimals()", "uint8"),
        _fn("symbol()", "string"),
    )
}

MULTICALL3: dict[str, Fn] = {
    f.name: f
    for f in (
        _fn("aggregate3((address,bool,bytes)[])", "(bool,bytes)[]"),
        _fn("getEthBalance(address)", "uint256"),
        _fn("getBlockNumber()", "uint256"),
    )
}


def event_topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


SESSION_OPENED = event_topic("SessionOpened(address,bytes32,address)")
SESSION_CLOSED = event_topic("SessionClosed(address,bytes32,address)")
BID_POSTED = event_topic("MarketplaceBidPosted(address,bytes32,uint256)")
MODEL_REGISTERED = event_topic("ModelRegisteredUpdated(address,bytes32)")
USER_WITHDRAWN = event_topic("UserWithdrawn(address,uint256)")
ERC20_TRANSFER = event_topic("Transfer(address,address,uint256)")
