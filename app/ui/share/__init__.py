"""Share my GPU: the page and its panels (one module per panel or dialog)."""

from app.ui.share.page import SharePage
from app.ui.share.texts import deregister_refund, mor_per_hour, state_text, uptime_text

__all__ = ["SharePage", "deregister_refund", "mor_per_hour", "state_text", "uptime_text"]
