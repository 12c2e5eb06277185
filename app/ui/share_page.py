"""Kept so ``app.ui.share_page.SharePage`` (the sidebar's lazy factory, older imports) still
resolves: the page now lives in the ``app.ui.share`` package, one module per panel."""

from app.ui.share import SharePage, deregister_refund, mor_per_hour, state_text, uptime_text

__all__ = ["SharePage", "deregister_refund", "mor_per_hour", "state_text", "uptime_text"]
