"""A provider whose engine really crashes (the real SmolLM2 in its child process, killed by
SIGSEGV on every decode through the engine's test switch) signs no receipt of service: the
consumer closes with its own signature and the contract records the session as disputed
(closeoutType 1, spec §4.2). The provider's dashboard and `morpheus sessions` say so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.chain.devnet import Devnet
from app.inference.crash_switch import ENV
from app.inference.engine import LocalEngine
from app.inference.library import bundled_model_path
from app.inference.types import ChatMessage, ChatRequest, InferenceError, SamplingParams
from app.p2p.errors import ProviderRejected
from app.services.consumer_service import ConsumerService
from app.services.node_identity import WalletNodeKey
from app.services.provider_claims import reconcile_served
from app.services.provider_service import ProviderService
from app.storage.sessions import SessionStore
from tests.devnet_fixture import devnet  # noqa: F401  (fixture)
from tests.e2e.conftest import CONSUMER_INDEX, PROVIDER_INDEX, make_party

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def crashing_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[LocalEngine]:
    monkeypatch.setenv(ENV, "always")  # every decode dies by SIGSEGV, at every rung
    # The engine remembers "cannot run here" per model in the data folder: keep that verdict
    # out of the run's shared folder, where the other tests' SmolLM2 must keep working.
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path / "crash-home"))
    path = bundled_model_path()
    assert path is not None
    eng = LocalEngine(path, n_slots=1, n_ctx=512, n_threads=1, name="SmolLM2-135M-Instruct")
    await eng.start()
    yield eng
    await eng.stop()


async def test_a_crashed_session_is_closed_as_a_dispute(
    devnet: Devnet, crashing_engine: LocalEngine, tmp_path: Path  # noqa: F811
) -> None:
    snap = devnet.snapshot()
    p = await make_party(devnet, PROVIDER_INDEX, tmp_path / "provider")
    c = await make_party(devnet, CONSUMER_INDEX, tmp_path / "consumer")
    provider = ProviderService(p.chain, p.signer, WalletNodeKey(p.signer), crashing_engine,
                               p.runner, p.sessions, model_name="SmolLM2-135M-Instruct")
    consumer = ConsumerService(c.chain, c.signer, WalletNodeKey(c.signer), c.runner, c.sessions)
    try:
        bid_id = await provider.go_online(10**13)
        opened = await consumer.open_session(bid_id, 600)
        req = ChatRequest((ChatMessage("user", "Say hello."),), SamplingParams(max_tokens=8))
        with pytest.raises((InferenceError, ProviderRejected), match="engine crashed"):
            async for _ in opened.engine.chat_stream(req):
                pass
        devnet.time_travel(60)
        await consumer.close_session(opened.record.session_id)
        s = await c.chain.get_session(opened.record.session_id)
        assert s.closed_at and s.closeout_type == 1, "a failed session must not read as served"
        assert provider.dashboard.sessions_failed == 1
        served = await reconcile_served(p.chain, SessionStore(tmp_path / "view.sqlite3"),
                                        provider.me)
        assert served is not None
        rec = served.earnings.sessions[0].session
        assert rec.disputed
        store = SessionStore(tmp_path / "view2.sqlite3")
        await reconcile_served(p.chain, store, provider.me)
        assert store.get(opened.record.session_id, "provider").status == "disputed"  # type: ignore[union-attr]
        await provider.go_offline()
    finally:
        if provider.server is not None:
            await provider.server.stop()
        await p.chain.close()
        await c.chain.close()
        devnet.revert(snap)
