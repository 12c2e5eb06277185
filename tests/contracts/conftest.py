"""Contract tests share one devnet and roll it back after every test (see tests/devnet_fixture)."""

from tests.devnet_fixture import chain, devnet

__all__ = ["chain", "devnet"]
