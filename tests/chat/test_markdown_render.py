"""Model output rendered for the transcript: formatting kept, markup from the model neutralised,
every code block copyable."""

from __future__ import annotations

from app.ui.chat.markdown import COPY_CODE_SCHEME, render_markdown


def test_code_blocks_get_copy_links_and_exact_text() -> None:
    text = "Try this:\n\n```python\nif a < b:\n    print('x')\n```\n\nand\n\n```\nls -la\n```\n"
    out = render_markdown(text, code_offset=3)
    assert out.code_blocks == ["if a < b:\n    print('x')", "ls -la"]
    assert f'href="{COPY_CODE_SCHEME}:3"' in out.html
    assert f'href="{COPY_CODE_SCHEME}:4"' in out.html
    assert "if a &lt; b:" in out.html and "python" in out.html


def test_raw_html_from_the_model_is_escaped() -> None:
    out = render_markdown('Hello <img src=x onerror="alert(1)"> **bold** [x](javascript:alert(1))')
    assert "<img" not in out.html
    assert "<strong>bold</strong>" in out.html
    assert 'href="javascript' not in out.html  # the link is not made clickable


def test_tables_and_lists_render() -> None:
    out = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n")
    assert "<table>" in out.html and "<td>2</td>" in out.html
    assert "<li>one</li>" in out.html
