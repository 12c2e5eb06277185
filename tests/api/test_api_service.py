"""The API as the desktop app runs it: the bundled model is listed without being loaded, the key
is the one Settings shows, and the port comes from Settings."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from app.api.keys import load_or_create_api_key
from app.api.service import LocalApiService
from app.inference.library import BUNDLED_NAME
from app.paths import AppPaths
from app.services.context import AppContext
from app.storage.settings import Settings


async def test_service_lists_the_bundled_model_without_loading_it(tmp_path: Path) -> None:
    paths = AppPaths(*(tmp_path / d for d in ("c", "d", "l", "k"))).ensure()
    ctx = AppContext(paths=paths, settings=Settings(api_port=0))
    svc = LocalApiService(ctx)
    url = await svc.start()
    try:
        assert url.startswith("http://127.0.0.1:") and svc.running
        assert await svc.start() == url  # a second start is harmless
        key = load_or_create_api_key(paths)
        async with (
            aiohttp.ClientSession() as s,
            s.get(url + "/models", headers={"Authorization": f"Bearer {key}"}) as r,
        ):
            body = await r.json()
        assert [m["id"] for m in body["data"]] == [BUNDLED_NAME]
        assert ctx.engine is None  # listed, not loaded
    finally:
        await svc.stop()
    assert not svc.running
