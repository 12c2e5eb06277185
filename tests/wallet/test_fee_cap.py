"""The fee shown in the send preview is the most a transfer may pay: it is sent with that cap,
and when the network's base fee rises past it between preview and send, nothing is sent and the
user is asked again with the new fee (real devnet, base fee raised with anvil)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from eth_account import Account

from app.chain.devnet import Devnet
from app.paths import AppPaths
from app.services.runtime import Runtime
from app.services.wallet_chain import ClientWalletChain
from app.services.wallet_service import WalletService
from app.storage.settings import Settings
from app.wallet.errors import FeeRose
from tests.wallet.secrets_seen import remember

Make = Callable[..., WalletService]
PW = "Saffron-Trellis-Beacon-73"
remember(PW)
FRIEND = "0x000000000000000000000000000000000000bEEF"


def _set_next_base_fee(chain: Devnet, wei: int) -> None:
    chain.w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(wei)])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert chain.w3.eth.get_block("latest")["baseFeePerGas"] == wei


@pytest.mark.parametrize("asset", ["ETH", "MOR"])
async def test_the_confirmed_fee_is_the_most_a_send_pays(
    chain: Devnet, wallet_paths: AppPaths, make_service: Make, asset: str
) -> None:
    key = Account.create().key
    remember(key.hex())
    me = Account.from_key(key).address
    w3 = chain.w3
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": chain.accounts[2], "to": me, "value": 10**18}))
    w3.eth.wait_for_transaction_receipt(
        chain.token().functions.transfer(me, 5 * 10**18).transact({"from": chain.accounts[2]}))
    (wallet_paths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (wallet_paths.data / "devnet" / "network.json").write_text(json.dumps(chain.network))
    wallet = make_service()
    wallet.import_private_key(key.hex(), PW)
    rt = Runtime(wallet_paths, Settings(network="devnet"), network_key="devnet")
    usual_base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    try:
        wallet.chain = ClientWalletChain(await rt.chain())
        _set_next_base_fee(chain, 10**9)
        preview = await wallet.prepare_send(asset, FRIEND, "0.01")  # type: ignore[arg-type]
        cap = preview.fee.max_fee_per_gas

        # The base fee rises, but the confirmed cap still covers it: sent with exactly that cap.
        _set_next_base_fee(chain, 15 * 10**8)
        rec = await wallet.send(preview)
        tx = w3.eth.get_transaction(rec.tx_hash)  # type: ignore[arg-type]
        assert tx["maxFeePerGas"] == cap and tx["gas"] == preview.fee.gas_limit
        receipt = w3.eth.wait_for_transaction_receipt(rec.tx_hash)  # type: ignore[arg-type]
        assert receipt["gasUsed"] * receipt["effectiveGasPrice"] <= preview.fee.max_cost

        # Now the network needs more than the user confirmed: nothing is sent, the user is
        # asked again with the new fee, and confirming that one sends.
        preview = await wallet.prepare_send(asset, FRIEND, "0.01")  # type: ignore[arg-type]
        _set_next_base_fee(chain, 3 * preview.fee.max_fee_per_gas)
        nonce = w3.eth.get_transaction_count(me)
        with pytest.raises(FeeRose) as err:
            await wallet.send(preview)
        assert "Nothing was sent" in err.value.message and "confirm again" in err.value.message
        assert err.value.quote.max_cost > preview.fee.max_cost  # type: ignore[attr-defined]
        assert w3.eth.get_transaction_count(me) == nonce
        again = await wallet.prepare_send(asset, FRIEND, "0.01")  # type: ignore[arg-type]
        assert again.fee.max_fee_per_gas > preview.fee.max_fee_per_gas
        rec = await wallet.send(again)
        assert w3.eth.wait_for_transaction_receipt(rec.tx_hash)["status"] == 1  # type: ignore[arg-type]
    finally:
        await rt.close()
        # anvil keeps the next base fee across evm_revert: leave it as other tests expect it
        w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(usual_base_fee)])  # type: ignore[arg-type]
