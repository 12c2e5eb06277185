"""Suite-wide setup: every test run gets its own MORPHEUS_HOME and an offscreen Qt platform, so
tests never touch the developer's real wallet, settings or logs."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if "MORPHEUS_HOME" not in os.environ:
    os.environ["MORPHEUS_HOME"] = tempfile.mkdtemp(prefix="morpheus-test-home-")


# ---------------------------------------------------------------- loopback only
# Tests talk to this machine only. A name beyond it (the public networks' RPC hosts a window on
# Base would try) is refused here as a DNS failure, which is what the program meets offline and
# must already handle; nothing is ever looked up or sent beyond this machine during a test.
import ipaddress
import socket

_LOCAL_NAMES = {"localhost", "0.0.0.0", "::", "::1", "", None, socket.gethostname(),
                socket.gethostname().split(".")[0]}
_real_getaddrinfo = socket.getaddrinfo


def _is_local(host: object) -> bool:
    """A name of this machine, or an address literal (no name lookup; namespaces and multicast
    in the router tests use them)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in _LOCAL_NAMES:
        return True
    text = str(host)
    try:
        ipaddress.ip_address(text.split("%")[0])
        return True
    except ValueError:
        return text.endswith(".localhost")


def _loopback_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if not _is_local(host):
        raise socket.gaierror(socket.EAI_NONAME, f"tests reach this machine only, not {host}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_getaddrinfo


# ---------------------------------------------------------------- garbage on the main thread
# As in the program (app.ui.main_thread_gc): no automatic collection, which would run in
# whatever thread allocates (a loop's worker thread too) and could destroy a window or loop
# caught in a cycle there, where Qt cannot stop its timers. Each test's garbage is collected on
# the main thread when it ends instead, as the program's timer would.
import gc  # noqa: E402

import pytest  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    gc.disable()


@pytest.fixture(autouse=True)
def _garbage_collected_on_the_main_thread():  # type: ignore[no-untyped-def]
    yield
    from app.ui.main_thread_gc import collect_due

    collect_due()
