"""The welcome steps shown inside the main window on a first start (and for "Set up a wallet")."""
