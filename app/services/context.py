"""The one object that owns the long-lived services, handed to every page and CLI command.

Fields start as ``None`` and are filled as the program starts (wallet after unlock, chain after
connect), so a page must cope with a service that is not there yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.paths import AppPaths, app_paths


@dataclass
class AppContext:
    paths: AppPaths = field(default_factory=lambda: app_paths().ensure())
    settings: Any = None  # app.storage.settings.Settings
    wallet: Any = None  # app.services.wallet_service.WalletService
    chain: Any = None  # app.chain.client.ChainClient
    engine: Any = None  # app.inference.types.ChatEngine
    chats: Any = None  # app.storage.chats.ChatStore
    jobs: Any = None  # app.services.tasks.TaskRunner
    provider: Any = None  # app.services.provider_service.ProviderService
    consumer: Any = None  # app.services.consumer_service.ConsumerService
    extras: dict[str, Any] = field(default_factory=dict)
