"""The window part of ``--selftest``: open the real main window, wait for its first page, close.

Built exactly as the launcher builds it (same QApplication set-up, same qasync loop, same quit
path with shutdown hooks), so a bundle missing a Qt plugin, a style sheet or an icon fails here
rather than on the user's screen.
"""

from __future__ import annotations

import asyncio
import sys
import time


def open_and_close_main_window(timeout_s: float = 60.0) -> tuple[str, int, float]:
    """Title, number of pages and milliseconds until the first page was built."""
    import qasync

    from app.paths import app_paths
    from app.ui.launch import _shut_down, build_main_window, create_application

    t0 = time.monotonic()
    app = create_application([sys.argv[0] if sys.argv else "morpheus-desktop"])
    window = build_main_window(app, app_paths().ensure(), open_start_page_on_show=True)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def run() -> tuple[str, int, float]:
        window.show()
        deadline = time.monotonic() + timeout_s
        while window.current_page_key() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no page after {timeout_s:.0f} s")
            await asyncio.sleep(0.02)
        ms = (time.monotonic() - t0) * 1000
        page = window.page(window.current_page_key() or "")
        if not page.isVisible():
            raise RuntimeError("the first page was built but is not visible")
        result = window.windowTitle(), len(window.page_keys()), ms
        window.request_quit()
        await _shut_down(window.ctx)
        return result

    try:
        with loop:
            return loop.run_until_complete(run())
    finally:
        asyncio.set_event_loop(None)
        window.deleteLater()
        app.processEvents()
