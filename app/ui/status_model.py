"""What the status bar shows (network, block height, wallet state), fed by the rest of the app.

Services have no Qt, so the glue that watches the chain and the wallet calls these setters; the
status bar only listens. Setters are idempotent, so a poller can call them on every tick.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

WALLET_STATES = ("none", "locked", "unlocked")


class StatusModel(QObject):
    network_changed = Signal(str)
    block_changed = Signal(object)  # int | None (None: not connected)
    wallet_state_changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.network = ""
        self.block: int | None = None
        self.wallet_state = "none"

    def set_network(self, name: str) -> None:
        if name != self.network:
            self.network = name
            self.network_changed.emit(name)

    def set_block(self, height: int | None) -> None:
        if height is not None and (isinstance(height, bool) or height < 0):
            raise ValueError(f"block height must be a non-negative int, got {height!r}")
        if height != self.block:
            self.block = height
            self.block_changed.emit(height)

    def set_wallet_state(self, state: str) -> None:
        if state not in WALLET_STATES:
            raise ValueError(f"wallet state must be one of {WALLET_STATES}, got {state!r}")
        if state != self.wallet_state:
            self.wallet_state = state
            self.wallet_state_changed.emit(state)
