"""Morpheus Desktop: wallet, remote chat and "Share my GPU" for the Morpheus inference network."""

__version__ = "0.1.0"
