"""A consumer or provider process that dies with SIGKILL at a chosen point (the kill -9 matrix).

Run by tests/e2e/test_kill_matrix.py with MORPHEUS_HOME pointing at the party's data::

    python -m tests.e2e.kill_child consumer KILL_AT BID_ID DEV_INDEX
    python -m tests.e2e.kill_child provider KILL_AT DEV_INDEX PORT PRICE

``KILL_AT`` is a contract function name (``approve``, ``openSession``, ``closeSession``,
``withdrawUserStakes``, ``providerRegister``, ``modelRegister``, ``postModelBid``,
``claimForProvider``): the process dies right after that transaction's broadcast. With a
``:pending`` suffix, anvil's automine is switched off just before the broadcast, so the
transaction is still pending when the process dies. ``stream`` dies at the first streamed token,
``serving`` once the provider has served a prompt.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import urllib.request
from typing import Any

from app.chain.abi import DIAMOND, ERC20
from app.chain.devnet import dev_account
from app.chain.tx import NonceManager, TxManager, TxPolicy
from app.inference.types import ChatMessage, ChatRequest, SamplingParams, TokenDelta
from app.services.runtime import Runtime
from app.services.supervisor import JobSupervisor
from app.wallet.signer import LocalSigner

FAST = TxPolicy(poll_interval=0.05, receipt_timeout=60.0, replace_after=60.0)


def die(where: str) -> None:
    print(f"killed at {where}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def rpc(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["result"]


def install_kill_hook(kill_at: str, rpc_url: str) -> None:
    name, _, mode = kill_at.partition(":")
    fn = ERC20.get(name) if name == "approve" else DIAMOND.get(name)
    if fn is None:
        return
    selector = fn.selector
    original = TxManager._broadcast

    async def broadcast(self: TxManager, raw: bytes, tx_hash: str, tx: dict[str, Any],
                        nm: NonceManager) -> str:
        hit = bytes(tx["data"])[:4] == selector
        if hit and mode == "pending":
            rpc(rpc_url, "evm_setAutomine", [False])
        result = await original(self, raw, tx_hash, tx, nm)
        if hit:
            die(kill_at)
        return result

    TxManager._broadcast = broadcast  # type: ignore[method-assign]


async def consumer(kill_at: str, bid_id: str, index: int) -> None:
    rt = Runtime(network_key="devnet", tx_policy=FAST)
    install_kill_hook(kill_at, rt.network().rpc_urls[0])
    sup = JobSupervisor(rt, LocalSigner(bytes(dev_account(index).key)), who="kill child",
                        watch_interval=0.2)
    await sup.start()
    assert sup.consumer is not None
    opened = await sup.consumer.open_session(bid_id, 600)
    print(f"opened {opened.record.session_id}", flush=True)
    req = ChatRequest((ChatMessage("user", "Count to five."),), SamplingParams(max_tokens=8))
    async for ev in opened.engine.chat_stream(req):
        if isinstance(ev, TokenDelta) and kill_at == "stream":
            die("stream")
    print("streamed", flush=True)
    # Two minutes of use, so the early close holds part of the stake until midnight (a close in
    # the very second of the open would hold nothing, and there would be nothing to withdraw).
    url = rt.network().rpc_urls[0]
    rpc(url, "evm_increaseTime", [120])
    rpc(url, "evm_mine", [])
    await sup.consumer.close_session(opened.record.session_id)
    print("closed", flush=True)
    await asyncio.sleep(600)  # the supervisor withdraws the held stake after midnight


async def provider(kill_at: str, index: int, port: int, price: int) -> None:
    from app.inference.engine import LocalEngine
    from app.inference.library import bundled_model_path
    from app.p2p.provider_server import PromptServed
    from app.services.provider_service import ProviderService

    rt = Runtime(network_key="devnet", tx_policy=FAST)
    install_kill_hook(kill_at, rt.network().rpc_urls[0])
    path = bundled_model_path()
    assert path is not None
    engine = LocalEngine(path, n_slots=1, n_ctx=1024, n_threads=1, name="SmolLM2-135M-Instruct")
    await engine.start()
    signer = LocalSigner(bytes(dev_account(index).key))
    sup = JobSupervisor(rt, signer, who="kill child", watch_interval=0.2)
    await sup.start()
    svc = await rt.provider(signer, engine, model_name="SmolLM2-135M-Instruct", port=port)
    if kill_at == "serving":
        original = ProviderService._on_event

        def on_event(self: ProviderService, event: Any) -> None:
            original(self, event)
            if isinstance(event, PromptServed):
                die("serving")

        svc._on_event = on_event.__get__(svc)  # type: ignore[method-assign]
    bid = await svc.go_online(price)
    print(f"online {bid}", flush=True)
    await svc.serve_forever()


if __name__ == "__main__":
    role, point = sys.argv[1], sys.argv[2]
    if role == "consumer":
        asyncio.run(consumer(point, sys.argv[3], int(sys.argv[4])))
    else:
        asyncio.run(provider(point, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])))
