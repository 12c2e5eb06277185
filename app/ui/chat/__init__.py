"""The Chat page's pieces, one file each: transcript and prompt widgets, the model picker's
sources, Markdown rendering, and remote chat (offers panel, open-session dialog, session bar).
The page itself is :mod:`app.ui.chat_page`."""
