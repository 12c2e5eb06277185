"""Benchmark: load a 200-provider / 20-model / 1,000-bid marketplace with ChainClient.

Setup (not measured) uses anvil's auto-impersonation and JSON-RPC batches of
eth_sendTransaction, so no keys or signatures are needed for the 1,400-odd setup transactions.
The measured part is one ``ChainClient.load_market()`` on a fresh client: HTTP POSTs are
counted by the client's RPC pool and set next to the number of individual getter calls a
one-call-per-item loader needs. Last line: ``market_load: ratio <r> seconds <t>``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.chain.abi import DIAMOND, ERC20
from app.chain.client import ChainClient
from app.chain.devnet import start_devnet
from app.chain.ids import model_id as derive_model_id
from app.chain.networks import network_from_dict

PROVIDERS = 200
MODELS = 20
BIDS_PER_PROVIDER = 5  # 200 × 5 = 1,000 bids
MOR = 10**18
PARAM_GETTERS = 5  # min stakes ×2, bid fee, price range, max duration


class Rpc:
    def __init__(self, url: str) -> None:
        self.url = url
        self.ids = 0

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        payload = []
        for method, params in calls:
            self.ids += 1
            payload.append({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params})
        req = urllib.request.Request(self.url, json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as resp:
            answers = json.loads(resp.read())
        errors = [a["error"] for a in answers if "error" in a]
        if errors:
            raise RuntimeError(f"setup call failed: {errors[0]}")
        by_id = {a["id"]: a["result"] for a in answers}
        return [by_id[p["id"]] for p in payload]

    def send_all(self, txs: list[dict[str, Any]], chunk: int = 250) -> None:
        """eth_sendTransaction in batches (explicit nonces: anvil serves a batch concurrently),
        then check every receipt succeeded."""
        senders = sorted({t["from"] for t in txs})
        counts = self.batch([("eth_getTransactionCount", [a, "pending"]) for a in senders])
        next_nonce = {a: int(n, 16) for a, n in zip(senders, counts, strict=True)}
        for t in txs:
            t["nonce"] = hex(next_nonce[t["from"]])
            next_nonce[t["from"]] += 1
        hashes: list[str] = []
        for i in range(0, len(txs), chunk):
            hashes += self.batch([("eth_sendTransaction", [tx]) for tx in txs[i : i + chunk]])
        pending = hashes
        deadline = time.monotonic() + 120
        while pending:
            still: list[str] = []
            for i in range(0, len(pending), chunk):
                group = pending[i : i + chunk]
                for h, rec in zip(group, self.batch([("eth_getTransactionReceipt", [h])
                                                     for h in group]), strict=True):
                    if rec is None:
                        still.append(h)
                    elif rec["status"] != "0x1":
                        raise RuntimeError(f"setup transaction failed: {rec}")
            pending = still
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} setup transactions were not mined")
            if pending:
                # anvil serves a batch concurrently, so some nonces arrived before their
                # predecessors and wait in its queue: mining a block promotes them
                self.batch([("evm_mine", [])])


def tx(sender: str, to: str, data: bytes) -> dict[str, Any]:
    return {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(2_000_000)}


def setup_market(rpc: Rpc, network: dict[str, Any], owner: str) -> None:
    token, diamond = network["morToken"], network["diamond"]
    providers = [f"0x{i + 1:040x}" for i in range(0x1000, 0x1000 + PROVIDERS)]
    from eth_utils import to_checksum_address

    providers = [to_checksum_address(p) for p in providers]
    rpc.batch([("anvil_autoImpersonateAccount", [True])]
              + [("anvil_setBalance", [p, hex(10**20)]) for p in providers])
    # owner: MOR for every provider, 20 models
    owner_txs = [tx(owner, token, ERC20["transfer"].encode(p, 3 * MOR)) for p in providers]
    owner_txs.append(tx(owner, token, ERC20["approve"].encode(diamond, MODELS * MOR)))
    model_ids = []
    for m in range(MODELS):
        base = m.to_bytes(32, "big")
        owner_txs.append(tx(owner, diamond, DIAMOND["modelRegister"].encode(
            owner, base, b"\x00" * 32, 0, MOR, f"model-{m}", ["llm"])))
        model_ids.append(bytes.fromhex(derive_model_id(owner, base)[2:]))
    rpc.send_all(owner_txs)
    # providers: exact approval for stake + 5 bid fees, register, bid on 5 models
    fee = 3 * 10**17
    prov_txs = []
    for p in providers:
        prov_txs.append(tx(p, token, ERC20["approve"].encode(diamond, MOR + BIDS_PER_PROVIDER
                                                              * fee)))
        prov_txs.append(tx(p, diamond, DIAMOND["providerRegister"].encode(p, MOR, "127.0.0.1:1")))
    rpc.send_all(prov_txs)
    bid_txs = []
    for i, p in enumerate(providers):
        for k in range(BIDS_PER_PROVIDER):
            model = model_ids[(i + k * 4) % MODELS]
            bid_txs.append(tx(p, diamond, DIAMOND["postModelBid"].encode(p, model,
                                                                         10**12 + i * 10 + k)))
    rpc.send_all(bid_txs)


async def measure(network: dict[str, Any], runs: int = 3) -> tuple[int, int, float, Any]:
    """Median of ``runs`` loads, each on a fresh client (HTTP connection warmed)."""
    times: list[float] = []
    for _ in range(runs):
        client = ChainClient(network_from_dict(network))
        try:
            await client.connect()
            await client.rpc.request("eth_blockNumber")  # warm the HTTP connection
            before = client.rpc.request_count
            t0 = time.perf_counter()
            snap = await client.load_market()
            times.append(time.perf_counter() - t0)
            ours = client.rpc.request_count - before
        finally:
            await client.close()
    print("load_market runs (s): " + ", ".join(f"{t:.3f}" for t in times))
    seconds = sorted(times)[len(times) // 2]
    models, bids = len(snap.models), len(snap.bids)
    naive = (2 + PARAM_GETTERS  # active model ids, active providers, parameters
             + 3 * models  # getModel, getModelActiveBids, getModelStats
             + len(snap.providers)  # getProvider
             + 2 * bids)  # getBid, getProviderModelStats
    return ours, naive, seconds, snap


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="market-load-") as tmp:
        devnet = start_devnet(Path(tmp))
        try:
            rpc = Rpc(devnet.rpc_url)
            t0 = time.perf_counter()
            setup_market(rpc, devnet.network, devnet.accounts[0])
            print(f"setup: {time.perf_counter() - t0:.1f} s (not measured)")
            ours, naive, seconds, snap = asyncio.run(measure(devnet.network))
        finally:
            devnet.stop()
    print(f"models {len(snap.models)} providers {len(snap.providers)} bids {len(snap.bids)}")
    print(f"provider-model stats {len(snap.provider_model_stats)} model stats "
          f"{len(snap.model_stats)}")
    print(f"http requests: ours {ours}, naive one-call-per-item {naive}")
    ok = (len(snap.models), len(snap.providers), len(snap.bids)) == (
        MODELS, PROVIDERS, PROVIDERS * BIDS_PER_PROVIDER)
    if not ok:
        print("market_load: WRONG COUNTS")
        return 1
    print(f"market_load: ratio {ours / naive:.4f} seconds {seconds:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
