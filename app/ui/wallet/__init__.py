"""The Wallet page's dialogs and the first-run wizard, one file each; the page itself is
:mod:`app.ui.wallet_page`."""
