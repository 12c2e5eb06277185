"""One running window per data folder: a second launch focuses the first and exits.

Two copies of the program on the same data would fight over the wallet's nonces, the provider port
and the job store. A lock file in the data folder decides who is first (Qt's QLockFile notices a
lock left by a crashed process); the first then listens on a local socket, and a later launch sends
it ``activate`` and waits for ``ok`` before exiting. The socket is private to the user.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QLockFile, QObject, Signal

from app.paths import AppPaths

if TYPE_CHECKING:  # QtNetwork loads after the window is shown (see launch.py)
    from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

ACTIVATE = b"activate"
ACK = b"ok"


def instance_key(paths: AppPaths) -> str:
    """A socket name unique to this user and data folder (short enough for any platform)."""
    import hashlib

    user = os.environ.get("USER") or os.environ.get("USERNAME") or ""
    if hasattr(os, "getuid"):
        user += f":{os.getuid()}"
    digest = hashlib.sha256(f"{user}\0{paths.data.resolve()}".encode()).hexdigest()[:20]
    return f"morpheus-desktop-{digest}"


class SingleInstance(QObject):
    """Call :meth:`acquire`; if it returns False, call :meth:`notify_running` and exit.

    The first instance calls :meth:`listen` once it is ready to answer (until then a later launch
    keeps retrying its connection for a few seconds).
    """

    activated = Signal()

    def __init__(self, paths: AppPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._paths = paths
        paths.data.mkdir(parents=True, exist_ok=True)
        self._lock = QLockFile(str(paths.data / "instance.lock"))
        self._lock.setStaleLockTime(0)  # stale only when the owner process is gone
        self._server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytes] = {}

    @property
    def key(self) -> str:
        return instance_key(self._paths)

    @property
    def is_listening(self) -> bool:
        return self._server is not None

    def acquire(self) -> bool:
        """Become the running instance; False when another one already is."""
        return bool(self._lock.tryLock(0))

    def listen(self) -> bool:
        """Start answering later launches; call after :meth:`acquire` returned True."""
        from PySide6.QtNetwork import QLocalServer

        if not self._lock.isLocked():
            raise RuntimeError("listen() without holding the instance lock")
        if self._server is not None:
            return True
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        QLocalServer.removeServer(self.key)  # a socket left by a crash; we hold the lock
        if not server.listen(self.key):
            log.warning("single-instance socket unavailable: %s", server.errorString())
            return False
        server.newConnection.connect(self._on_new_connection)
        self._server = server
        return True

    def release(self) -> None:
        """Stop answering and drop the lock. Sockets are cut from their signals before they go,
        so nothing calls back into this object while Qt tears them down."""
        for sock in list(self._buffers):
            sock.readyRead.disconnect()
            sock.disconnected.disconnect()
            sock.abort()
            sock.deleteLater()
        self._buffers.clear()
        if self._server is not None:
            self._server.newConnection.disconnect()
            self._server.close()
            self._server.deleteLater()
            self._server = None
        if self._lock.isLocked():
            self._lock.unlock()

    def notify_running(self, timeout_s: float = 5.0) -> bool:
        """Ask the running instance to show its window; True once it acknowledged."""
        from PySide6.QtNetwork import QLocalSocket

        deadline = time.monotonic() + timeout_s
        while True:
            sock = QLocalSocket()
            sock.connectToServer(self.key)
            if sock.waitForConnected(500):
                sock.write(ACTIVATE + b"\n")
                sock.flush()
                if sock.bytesToWrite() > 0:
                    sock.waitForBytesWritten(max(100, int((deadline - time.monotonic()) * 1000)))
                acked = self._wait_ack(sock, deadline)
                sock.disconnectFromServer()
                return acked
            # The first instance may hold the lock but not listen yet; retry until the deadline.
            if time.monotonic() >= deadline:
                log.warning("running instance did not answer: %s", sock.errorString())
                return False
            time.sleep(0.05)  # back-off between connection attempts, not synchronisation

    @staticmethod
    def _wait_ack(sock: QLocalSocket, deadline: float) -> bool:
        data = b""
        while ACK not in data:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0 or not sock.waitForReadyRead(remaining_ms):
                return False
            data += bytes(sock.readAll().data())
        return True

    # Slots are bound methods, not lambdas: a lambda would hold this object alive from inside the
    # socket, and its release during the socket's deletion could delete the socket twice.

    def _on_new_connection(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            self._buffers[sock] = b""
            sock.readyRead.connect(self._on_ready_read)
            sock.disconnected.connect(self._on_disconnected)

    def _sender_socket(self) -> QLocalSocket | None:
        from PySide6.QtNetwork import QLocalSocket

        sock = self.sender()
        return sock if isinstance(sock, QLocalSocket) and sock in self._buffers else None

    def _on_disconnected(self) -> None:
        sock = self._sender_socket()
        if sock is not None:
            del self._buffers[sock]
            sock.deleteLater()

    def _on_ready_read(self) -> None:
        sock = self._sender_socket()
        if sock is None:
            return
        buf = self._buffers[sock] + bytes(sock.readAll().data())
        *lines, rest = buf.split(b"\n")
        self._buffers[sock] = rest[-1024:]
        for line in lines:
            if line.strip() == ACTIVATE:
                log.info("another launch asked this window to come forward")
                sock.write(ACK + b"\n")
                sock.flush()
                self.activated.emit()

