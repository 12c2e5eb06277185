"""Who may sign for a provider (spec §4.3): the provider itself, a delegate it authorised for the
PROVIDER rule on the delegate.xyz v2 registry (asked through the Diamond's ``isRightsDelegated``),
or, when the provider is a contract (a ProvidersDelegate "subnet"), that contract's ``owner()``.

The contract accepts approvals and receipts from any of the three, and so does a Go consumer; a
consumer that refused them would refuse working providers. Answers are cached briefly (a revoked
delegation is seen within ``ttl_s``) so a stream of prompts costs no extra reads.
"""

from __future__ import annotations

import time

from eth_utils import keccak

from app.chain.abi import Fn
from app.chain.rpc import EthRpcError, RpcPool

PROVIDER_RULE = keccak(text="delegation.rules.provider")
_IS_RIGHTS_DELEGATED = Fn("isRightsDelegated(address,address,bytes32)", ("bool",))
_OWNER = Fn("owner()", ("address",))


class DelegationChecker:
    """``await checker(provider, signer)``: may ``signer`` sign approvals and receipts for it?"""

    def __init__(self, rpc: RpcPool, diamond: str, *, ttl_s: float = 60.0) -> None:
        self.rpc = rpc
        self.diamond = diamond
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}

    async def __call__(self, provider: str, signer: str) -> bool:
        provider, signer = provider.lower(), signer.lower()
        if provider == signer:
            return True
        now = time.monotonic()
        hit = self._cache.get((provider, signer))
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        allowed = await self._delegated(provider, signer) or await self._owner(provider) == signer
        self._cache[(provider, signer)] = (now, allowed)
        return allowed

    async def _eth_call(self, to: str, data: bytes) -> bytes | None:
        try:
            call = {"to": to, "data": "0x" + data.hex()}
            result = await self.rpc.request("eth_call", [call, "latest"])
        except EthRpcError:
            return None  # a revert (no registry, not a contract with owner()) means "no"
        if not isinstance(result, str) or not result.startswith("0x"):
            return None
        return bytes.fromhex(result[2:])

    async def _delegated(self, provider: str, signer: str) -> bool:
        data = await self._eth_call(
            self.diamond, _IS_RIGHTS_DELEGATED.encode(signer, provider, PROVIDER_RULE)
        )
        if data is None or len(data) != 32:
            return False
        return int.from_bytes(data, "big") == 1

    async def _owner(self, provider: str) -> str | None:
        data = await self._eth_call(provider, _OWNER.encode())
        if data is None or len(data) != 32 or any(data[:12]):
            return None  # an EOA answers "0x"; the contract's check wants exactly 32 bytes
        return "0x" + data[12:].hex()


def checker_for(chain: object) -> DelegationChecker | None:
    """A checker on a chain client's own RPC pool (anything with ``rpc`` and ``diamond``), else
    None. Nothing global holds it, so it goes when its client does."""
    rpc, diamond = getattr(chain, "rpc", None), getattr(chain, "diamond", None)
    if not isinstance(rpc, RpcPool) or not isinstance(diamond, str):
        return None
    return DelegationChecker(rpc, diamond)
