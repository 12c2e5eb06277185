"""Markdown → HTML for the chat view (markdown-it-py), with a "Copy" link on every code block.

Why our own renderer rules: QTextBrowser understands only a subset of HTML, model output must never
inject markup (raw HTML is escaped), and each code block needs an anchor the view can catch to put
exactly that block's text on the clipboard. No Qt here, so it is testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use: launch warms it after the first paint
    from markdown_it import MarkdownIt

COPY_CODE_SCHEME = "copy-code"
COPY_MESSAGE_SCHEME = "copy-msg"

CODE_BG = "#f3f4f6"
CODE_HEADER_BG = "#e5e7eb"


@dataclass
class RenderedMarkdown:
    html: str
    code_blocks: list[str] = field(default_factory=list)


def _code_html(code: str, lang: str, index: int) -> str:
    from html import escape  # (with markdown-it, after the first paint)

    label = escape(lang) if lang else "code"
    body = escape(code.rstrip("\n"))
    return (
        f'<table width="100%" cellspacing="0" cellpadding="6" bgcolor="{CODE_BG}" '
        f'style="margin-top:4px; margin-bottom:4px;">'
        f'<tr><td bgcolor="{CODE_HEADER_BG}"><span style="color:#4b5563;">{label}</span></td>'
        f'<td bgcolor="{CODE_HEADER_BG}" align="right"><a href="{COPY_CODE_SCHEME}:{index}" '
        f'style="text-decoration:none; color:#1d4ed8;"><b>Copy</b></a></td></tr>'
        f'<tr><td colspan="2"><pre style="font-family: monospace; margin:0; color:#111827;">'
        f"{body}</pre></td></tr></table>\n"
    )


def _hr(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    # A paragraph, not <hr>: Qt carries a rule's format into the blocks after it.
    return '<p align="center" style="color:#9ca3af;">· · ·</p>\n'


def _fence(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    token = tokens[idx]
    blocks: list[str] = env.setdefault("code_blocks", [])
    index = env.get("code_offset", 0) + len(blocks)
    blocks.append(token.content.rstrip("\n"))
    info = token.info.strip().split()
    return _code_html(token.content, info[0] if info else "", index)


def _code_block(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    token = tokens[idx]
    blocks: list[str] = env.setdefault("code_blocks", [])
    index = env.get("code_offset", 0) + len(blocks)
    blocks.append(token.content.rstrip("\n"))
    return _code_html(token.content, "", index)


@lru_cache(maxsize=1)
def _make_parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _code_block)
    md.add_render_rule("hr", _hr)
    return md


def render_markdown(text: str, *, code_offset: int = 0) -> RenderedMarkdown:
    """Render one message. ``code_offset`` numbers code blocks after those of earlier messages,
    so the copy links of a whole conversation are unique."""
    env: dict[str, Any] = {"code_blocks": [], "code_offset": code_offset}
    html = _make_parser().render(text, env)
    return RenderedMarkdown(html, list(env["code_blocks"]))


def completed_length(text: str, start: int = 0) -> int:
    """How much of a streaming ``text`` is finished blocks: up to the last blank line (or closing
    code fence) after ``start`` that is outside a code fence. ``start`` must itself be such a
    boundary. The rest is the open tail, still being written."""
    end = start
    pos = start
    fence = ""
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            return end
        line = text[pos:nl]
        pos = nl + 1
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence) and not stripped[len(fence):].strip("`~"):
                fence = ""
                end = pos
        elif stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif not stripped and not line.startswith("    "):
            end = pos
