"""Settings' "Serve an OpenAI-compatible API" switch, through the real window and services: on,
the official ``openai`` client lists the bundled model and gets an answer from it; the page shows
the base URL and the requests served; off, the port refuses connections."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import openai
import pytest
from PySide6.QtWidgets import QApplication

from app.api.keys import load_or_create_api_key
from app.api.service import window_api
from app.inference.library import BUNDLED_NAME
from app.services.app_services import services_of


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_switch_starts_and_stops_the_api(make_window, paths) -> None:
    window = make_window()
    window.show()
    page = window.show_page("settings")
    services = services_of(window.ctx)
    port = free_port()
    page.api_port.setValue(port)
    page.api_port.editingFinished.emit()
    assert not window_api(window.ctx).running
    assert page.api_state.text() == "Off: nothing listens."

    page.api_enabled.setChecked(True)
    await until(lambda: window_api(window.ctx).running)
    base_url = f"http://127.0.0.1:{port}/v1"
    assert page.api_url_edit.text() == base_url
    page.copy_url.click()
    assert QApplication.clipboard().text() == base_url
    key = page.api_key_edit.text()
    assert key == load_or_create_api_key(paths)

    client = openai.AsyncOpenAI(base_url=page.api_url_edit.text(), api_key=key, max_retries=0)
    try:
        models = [m.id async for m in client.models.list()]
        assert models == [BUNDLED_NAME]
        reply = await client.chat.completions.create(
            model=BUNDLED_NAME, max_tokens=4, temperature=0.0,
            messages=[{"role": "user", "content": "Say hi."}],
        )
        assert reply.choices[0].message.content
        await until(lambda: "1 request served" in page.api_state.text())
        assert page.api_state.text().startswith(f"Listening on {base_url}")
        assert "0 MOR staked today on network models" in page.api_state.text()

        page.api_enabled.setChecked(False)
        await until(lambda: not window_api(window.ctx).running)
        assert page.api_state.text() == "Off: nothing listens."
        with pytest.raises(openai.APIConnectionError):
            await client.models.list()
    finally:
        await client.close()
        await services.stop()


async def test_a_busy_port_is_explained_not_raised(make_window) -> None:
    window = make_window()
    window.show()
    page = window.show_page("settings")
    services = services_of(window.ctx)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        page.api_port.setValue(busy.getsockname()[1])
        page.api_port.editingFinished.emit()
        page.api_enabled.setChecked(True)
        await until(lambda: bool(window_api(window.ctx).error))
        assert "could not listen" in page.api_state.text()
        assert not window_api(window.ctx).running
    page.api_enabled.setChecked(False)
    await services.stop()


def test_daily_limit_is_saved_as_wei(make_window, paths) -> None:
    import json

    window = make_window()
    window.show()
    page = window.show_page("settings")
    assert page.api_limit.value() == 20.0  # small by default
    page.api_limit.setValue(2.5)
    page.api_limit.editingFinished.emit()
    saved = json.loads(paths.settings_file.read_text())
    assert saved["api_daily_limit_wei"] == 25 * 10**17
    assert window.ctx.settings.api_daily_limit_wei == 25 * 10**17


def test_activity_shows_what_the_api_staked_today(make_window, paths) -> None:
    from app.services.api_spend import api_ledger

    window = make_window()
    window.show()
    page = window.show_page("activity")
    assert page.api_spent.text().startswith("Local API: 0 MOR staked today on network models")
    api_ledger(paths).add(15 * 10**17)
    services_of(window.ctx)._emit("api")  # as the API does after each request
    assert "1.5 MOR staked today" in page.api_spent.text()
    assert "daily limit 20 MOR" in page.api_spent.text()


async def test_switch_on_at_launch_starts_the_api_without_opening_settings(
    make_window, paths
) -> None:
    from app.storage.settings import SettingsStore

    port = free_port()
    SettingsStore.open(paths.settings_file).update(api_enabled=True, api_port=port)
    window = make_window()
    window.show()
    services = services_of(window.ctx)
    await until(lambda: window_api(window.ctx).running)
    assert "settings" not in window.pages  # nobody opened the Settings page
    client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1",
                                api_key=load_or_create_api_key(paths), max_retries=0)
    try:
        assert [m.id async for m in client.models.list()] == [BUNDLED_NAME]
    finally:
        await client.close()
        await services.stop()
