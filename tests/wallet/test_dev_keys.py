"""Public test keys (the anvil/Hardhat mnemonic and its first accounts) sign on the devnet only.

"Switching to BASE / BASE Sepolia" is played by the session's real anvil answering with BASE's
chain id (``anvil_setChainId``): the public networks cannot be reached from the test machine, and
the program decides from the chain id the node reports, so every path runs for real.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from app.chain.devnet import Devnet, dev_account
from app.cli import main
from app.paths import AppPaths
from app.services.runtime import Runtime
from app.services.wallet_chain import ClientWalletChain
from app.services.wallet_service import WalletService
from app.storage.settings import Settings
from app.wallet.errors import TestKeyRefused
from app.wallet.hd import derive_addresses
from app.wallet.known_keys import DEV_MNEMONIC, dev_addresses, is_dev_address, refuse_dev_key

Make = Callable[..., WalletService]
PASSWORD = "correct horse 42!"
FRIEND = "0x000000000000000000000000000000000000bEEF"
PLAIN = "public test key"


def test_the_well_known_accounts_are_recognised() -> None:
    assert "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266" in dev_addresses()  # anvil account 0
    assert all(is_dev_address(a) for a in derive_addresses(DEV_MNEMONIC, 20))
    assert not is_dev_address("0x000000000000000000000000000000000000bEEF")
    refuse_dev_key(dev_account(0).address, 31337)  # the devnet: fine
    with pytest.raises(TestKeyRefused, match=r"not on BASE\."):
        refuse_dev_key(dev_account(0).address, 8453)
    with pytest.raises(TestKeyRefused, match="BASE Sepolia"):
        refuse_dev_key(dev_account(0).address, 84532)


@pytest.fixture(params=[(84532, "BASE Sepolia"), (8453, "BASE")], ids=["base-sepolia", "base"])
def real_chain_id(request: pytest.FixtureRequest, chain: Devnet) -> Iterator[tuple[int, str]]:
    chain_id, name = request.param
    chain.w3.provider.make_request("anvil_setChainId", [chain_id])  # type: ignore[arg-type]
    try:
        yield chain_id, name
    finally:
        chain.w3.provider.make_request("anvil_setChainId", [31337])  # type: ignore[arg-type]


async def test_every_signing_path_refuses_a_test_key_on_base(
    chain: Devnet, wallet_paths: AppPaths, make_service: Make, real_chain_id: tuple[int, str]
) -> None:
    chain_id, name = real_chain_id
    me = dev_account(5).address
    network = {**chain.network, "chainId": chain_id}
    (wallet_paths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (wallet_paths.data / "devnet" / "network.json").write_text(json.dumps(network))
    wallet = make_service()
    wallet.import_private_key("0x" + bytes(dev_account(5).key).hex(), PASSWORD)
    nonce = chain.w3.eth.get_transaction_count(me)
    friend_eth = chain.w3.eth.get_balance(FRIEND)

    rt = Runtime(wallet_paths, Settings(network="devnet"), network_key="devnet")
    try:
        client = await rt.chain()
        assert client.network.chain_id == chain_id
        wallet.chain = ClientWalletChain(client)
        signer = wallet.signer
        refusals: list[str] = []

        async def refused(coro: object) -> None:
            with pytest.raises(TestKeyRefused) as err:
                await coro  # type: ignore[misc]
            refusals.append(err.value.message)

        # Wallet page / CLI sends.
        for asset, amount in (("ETH", "0.01"), ("MOR", "1")):
            preview = await wallet.prepare_send(asset, FRIEND, amount)  # type: ignore[arg-type]
            await refused(wallet.send(preview))
        # Consumer and provider services are not even built for the key.
        await refused(rt.consumer(signer))
        await refused(rt.provider(signer, None, model_name="m"))  # type: ignore[arg-type]
        # Any chain write reached with the wallet's signer some other way.
        await refused(client.send_eth(signer, FRIEND, 1))
        await refused(client.transfer_mor(signer, FRIEND, 1))
        # MOR-RPC signatures (session requests, provider answers) and raw transactions.
        for call in (lambda: signer.sign_raw_hash(b"\x01" * 32),
                     lambda: signer.sign_message_hash(b"\x01" * 32),
                     lambda: signer.sign_transaction({"to": FRIEND, "value": 1, "gas": 21000,
                                                      "maxFeePerGas": 10**9, "nonce": 0,
                                                      "maxPriorityFeePerGas": 1,
                                                      "chainId": chain_id})):
            with pytest.raises(TestKeyRefused) as err:
                call()
            refusals.append(err.value.message)
    finally:
        await rt.close()
    assert all(PLAIN in m and f"not on {name}." in m for m in refusals), refusals
    assert chain.w3.eth.get_transaction_count(me) == nonce  # nothing was ever sent
    assert chain.w3.eth.get_balance(FRIEND) == friend_eth


def test_the_command_line_refuses_too(
    chain: Devnet, wallet_paths: AppPaths, real_chain_id: tuple[int, str],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    me = dev_account(7).address
    monkeypatch.setenv("MORPHEUS_WALLET_PASSWORD", PASSWORD)
    monkeypatch.setenv("MORPHEUS_HOME", str(Path(wallet_paths.data).parent))
    key_file = tmp_path / "key.txt"
    key_file.write_text(bytes(dev_account(7).key).hex())
    assert main(["wallet", "import", "key", "--file", str(key_file)]) == 0
    nonce = chain.w3.eth.get_transaction_count(me)
    capsys.readouterr()
    rpc = ["--rpc", chain.rpc_url, "--mor-token", chain.network["morToken"]]
    assert main(["wallet", "send", "--to", FRIEND, "--amount", "1", "--yes", *rpc]) == 1
    assert f"not on {real_chain_id[1]}." in capsys.readouterr().err
    assert chain.w3.eth.get_transaction_count(me) == nonce


async def test_a_test_key_still_signs_on_the_devnet(
    chain: Devnet, wallet_paths: AppPaths, make_service: Make
) -> None:
    wallet = make_service()
    wallet.import_private_key("0x" + bytes(dev_account(6).key).hex(), PASSWORD)
    (wallet_paths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (wallet_paths.data / "devnet" / "network.json").write_text(json.dumps(chain.network))
    rt = Runtime(wallet_paths, Settings(network="devnet"), network_key="devnet")
    try:
        consumer = await rt.consumer(wallet.signer)
        before = chain.w3.eth.get_balance(FRIEND)
        await consumer.chain.send_eth(consumer.signer, FRIEND, 5)
        assert chain.w3.eth.get_balance(FRIEND) == before + 5
    finally:
        await rt.close()


def test_the_demo_wallet_stays_out_of_the_os_keyring_and_off_real_networks(
    chain: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    from keyring.backend import KeyringBackend

    from app.commands.demo import CONSUMER_ACCOUNT, _paths, _prepare_consumer

    class OsKeyring(KeyringBackend):
        """Stands in for the user's real keyring (macOS Keychain, Secret Service ...)."""

        priority = 10  # type: ignore[assignment]
        writes: ClassVar[list[tuple[str, str]]] = []

        def set_password(self, service: str, username: str, password: str) -> None:
            self.writes.append((service, username))

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def delete_password(self, service: str, username: str) -> None:
            pass

    OsKeyring.__module__ = "keyring.backends.SecretService"  # what system_keyring() looks for
    old = keyring.get_keyring()
    keyring.set_keyring(OsKeyring())
    try:
        home = tmp_path / "demo-consumer"
        _prepare_consumer(home, chain.network)
        paths = _paths(home)
        fresh = WalletService(paths, keystore_scrypt_n=2**10, seal_scrypt_n=2**10)
        assert fresh.try_auto_unlock()  # the demo still unlocks by itself ...
        assert OsKeyring.writes == []  # ... from a file in the demo folder, not the OS keyring
        assert fresh.secrets.fallback_file.is_relative_to(home)
        assert fresh.address == dev_account(CONSUMER_ACCOUNT).address
        fresh.network_chain_id = 8453  # Settings switched to BASE
        with pytest.raises(TestKeyRefused):
            fresh.signer.sign_raw_hash(b"\x02" * 32)
    finally:
        keyring.set_keyring(old)
