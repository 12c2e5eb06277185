"""Assembles the long-lived services from settings, the same way for the GUI and the CLI.

Job and session stores are kept per (chain, wallet address): a stake opened on BASE by one wallet
must never be "closed" by another wallet's background task or on another chain.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from eth_utils import to_checksum_address

from app.chain.client import ChainClient
from app.chain.networks import DEVNET_KEY, Network, get_network
from app.chain.tx import TxPolicy
from app.errors import UserFacingError
from app.fileio import ensure_private_dir
from app.inference.types import ChatEngine
from app.paths import AppPaths, app_paths
from app.services.consumer_service import ConsumerService
from app.services.node_identity import WalletNodeKey
from app.services.provider_service import ProviderService
from app.services.tasks import TaskRunner
from app.storage.jobs import JobStore
from app.storage.sessions import SessionStore
from app.storage.settings import Settings, load_settings
from app.wallet.known_keys import refuse_dev_key
from app.wallet.lock import WalletSigner
from app.wallet.signer import LocalSigner


def _settings_for_money(path: Path, network_key: str | None) -> Settings:
    """Settings for a headless command. A damaged settings file falls back to defaults, and the
    default network is BASE mainnet: never switch a user's money to another network silently."""
    result = load_settings(path)
    if network_key is not None:
        return result.settings
    damaged = not path.exists() and any(path.parent.glob(path.name + ".bad-*"))
    if damaged or (result.notice is not None and "network" in result.notice):
        raise UserFacingError(
            "Your settings file was damaged (it was kept aside next to it), so it is not clear "
            "which network to use. Pass --network (for example --network base-mainnet), or "
            "choose the network again in the app's Settings.",
            detail=result.notice or str(path),
        )
    return result.settings


class Runtime:
    def __init__(
        self,
        paths: AppPaths | None = None,
        settings: Settings | None = None,
        *,
        network_key: str | None = None,
        tx_policy: TxPolicy | None = None,
    ) -> None:
        self.paths = (paths or app_paths()).ensure()
        self.settings = settings or _settings_for_money(self.paths.settings_file, network_key)
        self.network_key = network_key or self.settings.network
        self.tx_policy = tx_policy
        self._chain: ChainClient | None = None
        self._chain_lock = asyncio.Lock()
        self._runners: dict[str, TaskRunner] = {}
        self._sessions: dict[str, SessionStore] = {}

    def network(self) -> Network:
        devnet_file = self.paths.data / "devnet" / "network.json"  # see app.chain.devnet
        if self.network_key == DEVNET_KEY and not devnet_file.exists():
            raise UserFacingError(
                "The local devnet is not running. Start it with `morpheus devnet up`."
            )
        return get_network(self.network_key, devnet_file=devnet_file,
                           rpc_urls=self.settings.custom_rpc_urls or None)

    async def chain(self) -> ChainClient:
        """The one client of this network; callers at the same moment share it (two clients
        would mean two nonce managers, and one of them never closed)."""
        async with self._chain_lock:
            if self._chain is None:
                self._chain = await ChainClient.connected(self.network(), policy=self.tx_policy)
            return self._chain

    def _account_dir(self, chain_id: int, address: str) -> Path:
        d = self.paths.data / "accounts" / f"{chain_id}-{to_checksum_address(address)}"
        ensure_private_dir(d)  # jobs and sessions are nobody else's business (files inside too)
        return d

    def runner(self, chain_id: int, address: str) -> TaskRunner:
        key = f"{chain_id}-{address.lower()}"
        if key not in self._runners:
            d = self._account_dir(chain_id, address)
            self._runners[key] = TaskRunner(JobStore(d / "jobs.sqlite3"))  # 0600 (db.connect)
        return self._runners[key]

    def sessions(self, chain_id: int, address: str) -> SessionStore:
        key = f"{chain_id}-{address.lower()}"
        if key not in self._sessions:
            db = self._account_dir(chain_id, address) / "sessions.sqlite3"
            self._sessions[key] = SessionStore(db)
        return self._sessions[key]

    async def consumer(self, signer: LocalSigner | WalletSigner) -> ConsumerService:
        chain = await self.chain()
        cid = chain.network.chain_id
        refuse_dev_key(signer.address, cid)  # public test keys never touch real money
        return ConsumerService(chain, signer, WalletNodeKey(signer),
                               self.runner(cid, signer.address), self.sessions(cid, signer.address))

    async def provider(
        self, signer: LocalSigner | WalletSigner, engine: ChatEngine, *, model_name: str,
        host: str = "127.0.0.1", port: int = 0, public_endpoint: str | None = None,
    ) -> ProviderService:
        chain = await self.chain()
        cid = chain.network.chain_id
        refuse_dev_key(signer.address, cid)
        return ProviderService(
            chain, signer, WalletNodeKey(signer), engine, self.runner(cid, signer.address),
            self.sessions(cid, signer.address), model_name=model_name, host=host, port=port,
            public_endpoint=public_endpoint, state_dir=self._account_dir(cid, signer.address),
        )

    async def close(self) -> None:
        for r in self._runners.values():
            await r.stop()
            r.store.close()
        for s in self._sessions.values():
            s.close()
        if self._chain is not None:
            await self._chain.close()
            self._chain = None
