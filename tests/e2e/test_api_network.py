"""Network models through the local API, on the devnet with two real SmolLM2 providers and the
official ``openai`` client: ``mor/<name>`` is listed beside the local model; a request opens a
session with the best-rated bid on its own (through the wallet's services and job supervisor),
the next request reuses it, it closes when idle and the stake comes back; the daily spending
limit refuses with an OpenAI-style error; a provider that dies before the first token is replaced
without the client noticing, one that dies after tokens ends the stream with an error and no
repeated text."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
import pytest_asyncio

from app.api.keys import load_or_create_api_key
from app.api.network_models import AutoSessionEngine
from app.api.service import LocalApiService, window_api
from app.chain.devnet import Devnet, dev_account, network_file
from app.inference.engine import LocalEngine
from app.inference.library import BUNDLED_NAME
from app.paths import app_paths
from app.services.app_services import SERVICES_KEY, AppServices
from app.services.context import AppContext
from app.services.node_identity import WalletNodeKey
from app.services.provider_service import ProviderService
from app.services.runtime import Runtime
from app.services.tasks import TaskRunner
from app.services.wallet_service import WalletService
from app.storage.jobs import JobStore
from app.storage.sessions import SessionStore
from app.storage.settings import Settings
from app.wallet.keyring_store import UnlockSecretStore
from app.wallet.signer import LocalSigner
from tests.devnet_fixture import chain_snapshot  # noqa: F401  (fixture)
from tests.e2e.conftest import FAST

pytestmark = pytest.mark.asyncio(loop_scope="session")

MODEL = "SmolLM2-135M-Instruct"
NET_MODEL = f"mor/{MODEL}"
PROVIDERS = ((3, 10**13), (9, 2 * 10**13))  # dev account, wei/s: the cheaper one rates first
CONSUMER = 4
PASSWORD = "amber-lantern-river-52-calm"
IDLE_S = 3


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def until_closed(chain: object, session_id: str, timeout: float = 60.0) -> None:
    """The session's close may be finished by the background close job (it retries on its
    own when the direct close meets the job already running): wait for the chain to say so."""
    deadline = time.monotonic() + timeout
    while (await chain.get_session(session_id)).closed_at == 0:  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise AssertionError(f"session {session_id} still open")
        await asyncio.sleep(0.2)


@dataclass
class Net:
    providers: list[ProviderService]
    services: AppServices
    api: LocalApiService
    client: openai.AsyncOpenAI
    user: str

    def engine(self) -> AutoSessionEngine:
        network = self.api.network
        assert network is not None
        return network.engine(NET_MODEL)

    async def stop_provider(self, svc: ProviderService) -> None:
        assert svc.server is not None
        await svc.server.stop()
        svc.server = None


@pytest_asyncio.fixture(loop_scope="session")
async def net(
    chain_snapshot: Devnet, smol_engine: LocalEngine, tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Net]:
    """Two providers online; the consumer as the program builds it (wallet unlocked, settings on
    the devnet, its ``AppServices`` with the job supervisor) and its local API running."""
    home = tmp_path / "consumer-home"
    monkeypatch.setenv("MORPHEUS_HOME", str(home))
    paths = app_paths().ensure()
    nf = network_file()
    nf.parent.mkdir(parents=True, exist_ok=True)
    nf.write_text(json.dumps(chain_snapshot.network), encoding="utf-8")
    providers: list[ProviderService] = []
    services: AppServices | None = None
    client: openai.AsyncOpenAI | None = None
    try:
        for index, price in PROVIDERS:
            from app.chain.client import ChainClient
            from app.chain.networks import network_from_dict

            chain = ChainClient(network_from_dict(chain_snapshot.network), policy=FAST)
            await chain.connect()
            signer = LocalSigner(bytes(dev_account(index).key))
            phome = tmp_path / f"provider-{index}"
            phome.mkdir()
            svc = ProviderService(chain, signer, WalletNodeKey(signer), smol_engine,
                                  TaskRunner(JobStore(phome / "jobs.sqlite3")),
                                  SessionStore(phome / "sessions.sqlite3"), model_name=MODEL)
            providers.append(svc)
            await svc.go_online(price)
        wallet = WalletService(paths, keystore_scrypt_n=2**10, seal_scrypt_n=2**10,
                               secrets=UnlockSecretStore(paths.wallet, paths.config))
        wallet.import_private_key(bytes(dev_account(CONSUMER).key).hex(), PASSWORD)
        settings = Settings(network="devnet", api_port=0, api_idle_close_s=IDLE_S)
        ctx = AppContext(paths=paths, settings=settings, wallet=wallet)
        services = AppServices(ctx, runtime=Runtime(paths, settings, network_key="devnet",
                                                    tx_policy=FAST), engine=smol_engine)
        ctx.extras[SERVICES_KEY] = services
        assert await services.connect() is not None
        assert services.supervisor is not None  # the money jobs run as in the program
        api = window_api(ctx)  # the window's API, as Settings' switch runs it
        await api.apply(True, 0)
        assert api.running, api.error
        client = openai.AsyncOpenAI(base_url=api.base_url,
                                    api_key=load_or_create_api_key(paths), max_retries=0)
        yield Net(providers, services, api, client, dev_account(CONSUMER).address)
    finally:
        if client is not None:
            await client.close()
        if services is not None:
            with contextlib.suppress(Exception):
                await services.stop()
        for svc in providers:
            if svc.server is not None:
                await svc.server.stop()
            await svc.chain.close()


def ask(text: str, max_tokens: int = 8) -> dict[str, object]:
    return {"model": NET_MODEL, "max_tokens": max_tokens, "temperature": 0.0,
            "messages": [{"role": "user", "content": text}]}


async def stream_text(net: Net, text: str, max_tokens: int = 8) -> str:
    parts: list[str] = []
    stream = await net.client.chat.completions.create(stream=True, **ask(text, max_tokens))
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    return "".join(parts)


async def test_network_model_session_opens_is_reused_idles_out_and_respects_the_limit(
    net: Net,
) -> None:
    chain = net.services.chain
    assert chain is not None
    ids = [m.id async for m in net.client.models.list()]
    assert ids == [BUNDLED_NAME, NET_MODEL]

    before = await chain.mor_balance(net.user)
    assert await stream_text(net, "Say hello.")  # a session opened on its own
    rec = net.engine().session
    assert rec is not None and rec.provider == net.providers[0].me  # the best-rated bid
    assert (await chain.get_session(rec.session_id)).is_active
    assert await chain.mor_balance(net.user) == before - rec.stake
    assert net.api.network.ledger.spent_today() == rec.stake

    reply = await net.client.chat.completions.create(**ask("Say hello again."))
    assert reply.choices[0].message.content and reply.model == NET_MODEL
    again = net.engine().session
    assert again is not None and again.session_id == rec.session_id  # reused, not reopened
    assert await chain.user_session_ids(net.user) == [rec.session_id]

    # Unused for IDLE_S: closed through the consumer's close job; the stake comes back (all of
    # it but today's share, which is held until the next UTC midnight).
    sessions = net.api.network
    consumer = await net.services.consumer()

    def closed() -> bool:
        r = consumer.sessions.get(rec.session_id, "consumer")
        return r is not None and r.status == "closed"

    await until(closed)
    assert net.engine().session is None
    assert (await chain.get_session(rec.session_id)).closed_at > 0
    done = consumer.sessions.get(rec.session_id, "consumer")
    assert done is not None and done.refunded + done.on_hold == rec.stake and done.refunded > 0
    assert await chain.mor_balance(net.user) == before - done.on_hold

    # The daily limit: another session of the same size would pass it, so nothing is staked.
    net.services.ctx.settings.api_daily_limit_wei = sessions.ledger.spent_today() + rec.stake - 1
    with pytest.raises(openai.RateLimitError) as err:
        await net.client.chat.completions.create(**ask("Hello?"))
    assert err.value.code == "insufficient_quota"
    assert "daily limit" in err.value.message
    net.services.ctx.settings.api_daily_limit_wei = 0
    with pytest.raises(openai.RateLimitError) as err:
        await net.client.chat.completions.create(**ask("Hello?"))
    assert "limit is 0 MOR" in err.value.message
    assert await chain.user_session_ids(net.user) == [rec.session_id]
    assert await chain.mor_balance(net.user) == before - done.on_hold


async def test_failover_before_the_first_token_is_silent_and_after_it_ends_with_an_error(
    net: Net,
) -> None:
    chain = net.services.chain
    assert chain is not None
    assert await stream_text(net, "Say hello.")
    first = net.engine().session
    assert first is not None and first.provider == net.providers[0].me
    best, other = net.providers

    # The session's provider is gone before the next answer starts: the other one answers and
    # the client sees a normal reply.
    await net.stop_provider(best)
    assert (await stream_text(net, "Say hello again.")).strip()
    second = net.engine().session
    assert second is not None and second.provider == other.me
    await until_closed(chain, first.session_id)

    # The other provider dies after its first tokens: the stream ends with an error event, and
    # what came before is never sent again.
    pieces: list[str] = []
    stream = await net.client.chat.completions.create(
        stream=True, **ask("Count from one to fifty, separated by commas.", 64))
    with pytest.raises(openai.APIError) as err:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
                if other.server is not None:
                    await net.stop_provider(other)
    assert "stopped in the middle of the answer" in err.value.message
    text = "".join(pieces)
    assert pieces and len(pieces) < 64
    head = "".join(pieces[:2])
    assert text.count(head) == 1, f"text repeated: {text!r}"
    # Both failed sessions are closed; nothing is left staked on the chain.
    await until(lambda: net.engine().session is None)
    for sid in (first.session_id, second.session_id):
        await until_closed(chain, sid)
    assert sorted(await chain.user_session_ids(net.user)) == sorted(
        [first.session_id, second.session_id])


async def test_a_client_that_disconnects_mid_answer_leaves_nothing_behind(net: Net) -> None:
    import aiohttp

    chain = net.services.chain
    assert chain is not None
    body = {**ask("Count from one to fifty, separated by commas.", 64), "stream": True}
    headers = {"Authorization": f"Bearer {net.client.api_key}"}
    async with aiohttp.ClientSession() as http, http.post(
        net.api.base_url + "/chat/completions", json=body, headers=headers
    ) as resp:
        assert resp.status == 200
        await resp.content.readline()  # the first event; then the client goes away
    rec = net.engine().session
    assert rec is not None
    await until(lambda: net.engine().active == 0)
    # The session is still good for the next request, then closes when idle.
    assert await stream_text(net, "Say hello.")
    assert net.engine().session is not None
    assert net.engine().session.session_id == rec.session_id  # type: ignore[union-attr]
    await until(lambda: net.engine().session is None)
    await until_closed(chain, rec.session_id)


async def test_concurrent_first_requests_share_one_session(net: Net) -> None:
    chain = net.services.chain
    assert chain is not None
    texts = await asyncio.gather(stream_text(net, "Say hello."), stream_text(net, "Say hi."),
                                 stream_text(net, "Say hey."))
    assert all(t.strip() for t in texts)
    rec = net.engine().session
    assert rec is not None
    assert await chain.user_session_ids(net.user) == [rec.session_id]  # one open, not three
    assert net.api.network.ledger.spent_today() == rec.stake
    await net.engine().close()
    await until_closed(chain, rec.session_id)


async def test_a_session_about_to_end_is_replaced_before_the_request(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.api import network_models as api_network

    chain = net.services.chain
    assert chain is not None
    assert await stream_text(net, "Say hello.")
    first = net.engine().session
    assert first is not None
    # Any session now counts as "about to end" (less left than the margin): it is closed and a
    # new one opened before the request is sent, never left to run out mid-answer.
    monkeypatch.setattr(api_network, "REPLACE_MARGIN_S", 10**9)
    assert await stream_text(net, "Say hello again.")
    second = net.engine().session
    assert second is not None and second.session_id != first.session_id
    await until_closed(chain, first.session_id)
    assert (await chain.get_session(second.session_id)).is_active
    monkeypatch.setattr(api_network, "REPLACE_MARGIN_S", 120)
    await net.engine().close()
    await until_closed(chain, second.session_id)


async def test_no_mor_is_an_openai_error_and_stopping_the_api_closes_its_sessions(
    net: Net,
) -> None:
    chain = net.services.chain
    assert chain is not None
    assert await stream_text(net, "Say hello.")
    rec = net.engine().session
    assert rec is not None
    # Switching the API off closes what it opened: the stake comes back, nothing is stranded.
    await net.api.apply(False)
    assert not net.api.running
    await until_closed(chain, rec.session_id)
    await net.api.apply(True, 0)
    client = openai.AsyncOpenAI(base_url=net.api.base_url,
                                api_key=net.client.api_key, max_retries=0)
    # Every MOR leaves the wallet: a new session cannot be staked, and the client is told why.
    consumer = await net.services.consumer()
    balance = await chain.mor_balance(net.user)
    await chain.transfer_mor(consumer.signer, dev_account(0).address, balance)
    try:
        with pytest.raises(openai.RateLimitError) as err:
            await client.chat.completions.create(**ask("Hello?"))
        assert err.value.code == "insufficient_quota"
        assert "Your wallet has 0 MOR" in err.value.message
    finally:
        await client.close()
    assert await chain.user_session_ids(net.user) == [rec.session_id]


async def test_no_bids_and_a_locked_wallet_are_openai_errors_and_stake_nothing(
    net: Net,
) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await net.client.chat.completions.create(**{**ask("Hi"), "model": "mor/NoSuchModel"})
    assert missing.value.code == "model_not_found" and "NoSuchModel" in missing.value.message
    with pytest.raises(openai.BadRequestError) as json_mode:  # a grammar cannot bind a provider
        await net.client.chat.completions.create(
            **ask("Hi"), response_format={"type": "json_object"})
    assert "local models only" in json_mode.value.message
    with pytest.raises(openai.BadRequestError):  # nor do providers embed through us (yet)
        await net.client.embeddings.create(model=NET_MODEL, input="Hi")
    assert net.services.ctx.wallet is not None
    net.services.ctx.wallet.lock()
    with pytest.raises(openai.InternalServerError) as err:
        await net.client.chat.completions.create(**ask("Hello?"))
    assert err.value.status_code == 503 and "Unlock your wallet" in err.value.message
    chain = net.services.chain
    assert chain is not None
    assert await chain.user_session_ids(net.user) == []
