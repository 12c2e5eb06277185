"""The wallet core: mnemonics, HD derivation, keystores, sealing and signing.

No Qt and no network here, so every piece is testable with plain pytest and reusable headless.
"""
