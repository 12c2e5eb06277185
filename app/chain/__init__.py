"""Chain layer: everything that talks to an EVM node (no Qt).

- ``networks``: presets (BASE, Arbitrum, their testnets) and the devnet file; RPC lists.
- ``rpc``: JSON-RPC over HTTP with failover, retries and request counting.
- ``abi`` / ``ids``: the Diamond/ERC-20/Multicall3 signatures we use; id derivations.
- ``errors``: typed, user-facing errors and the revert decoder.
- ``tx``: the transaction manager (simulate, gas, EIP-1559, nonce lock, fee bumps).
- ``client``: ``ChainClient``, typed reads/writes returning ``app.market.types``.
- ``devnet`` / ``artifacts``: the local chain and the compiled contracts.
"""
