"""How people reach you: this computer's addresses, the address published on chain (a public
IP or a DNS name), opening the port on the router (UPnP / NAT-PMP), and the question asked before
the node accepts connections from other computers."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.p2p.endpoints import is_loopback_host, local_addresses
from app.services.provider_service import ProviderService
from app.ui.widgets.question_dialog import QuestionDialog


class ReachPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("How people reach you", parent)
        form = QFormLayout(self)
        self.addresses = QLabel()
        self.addresses.setWordWrap(True)
        self.addresses.setProperty("role", "hint")
        form.addRow("This computer", self.addresses)
        self.public_endpoint = QLineEdit()
        self.public_endpoint.setPlaceholderText("node.example.com:3333 or your public IP:port")
        form.addRow("Published address", self.public_endpoint)
        self.upnp = QCheckBox("Open the port on my router automatically (UPnP / NAT-PMP)")
        form.addRow(self.upnp)
        self.show_addresses()

    def show_addresses(self) -> None:
        self.addresses.setText(", ".join(f"{a.ip} ({a.label})" for a in local_addresses()))

    def load(self, provider: ProviderService) -> None:
        self.public_endpoint.setText(provider.public_endpoint or "")
        self.upnp.setChecked(provider.upnp)

    def apply(self, provider: ProviderService) -> None:
        """Hand the choices to the service; reaching beyond this computer means listening on
        every interface, which needs the user's yes again if it was not given for that."""
        public = self.public_endpoint.text().strip() or None
        upnp = self.upnp.isChecked()
        if public == provider.public_endpoint and upnp == provider.upnp:
            return
        provider.public_endpoint, provider.upnp = public, upnp
        host = "0.0.0.0" if (public or upnp) else "127.0.0.1"
        if host != provider.host:
            provider.host = host
            provider.listen_consent = False


class ListenDialog(QuestionDialog):
    """Asked once before the node listens beyond this computer."""

    def __init__(self, host: str, port: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Accept connections from other computers?")
        lay = QVBoxLayout(self)
        where = f"port {port}" if port else "a free port"
        self.label = QLabel(
            f"To be reachable, the provider node listens on {host} ({where}): other computers "
            "on your network and, through your router, the internet can connect to it. It only "
            "answers signed requests of people with a session, and only serves the model.")
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.allow_button = buttons.addButton("Allow", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._expect_answer()


def needs_listen_consent(provider: ProviderService) -> bool:
    return not is_loopback_host(provider.host) and not provider.listen_consent
