"""Message body helpers: HTML <-> text conversion and Outlook's bodyPreview."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

PREVIEW_LENGTH = 255

_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table"}
_SKIP_TAGS = {"head", "style", "script", "title"}
_BLANK_LINES = re.compile(r"(\r\n){3,}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "br":
            self.parts.append("\r\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\r\n\r\n" if tag == "p" else "\r\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data) if data.strip() else "")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body, paragraphs separated by blank lines (CRLF, like Outlook)."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\r\n\r\n", "\r\n".join(lines)).strip() + "\r\n"


def wrap_html(inner: str) -> str:
    """An HTML document around body markup, the way Exchange stores HTML bodies."""
    return (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
        "</head>\r\n<body>\r\n" + inner + "\r\n</body>\r\n</html>\r\n"
    )


def text_to_html(text: str) -> str:
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    inner = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return wrap_html(inner)


def preview(text: str) -> str:
    """Outlook's bodyPreview: the first 255 characters of the text body."""
    return text.strip()[:PREVIEW_LENGTH]


def body_text(body: dict[str, str]) -> str:
    content = body.get("content") or ""
    return html_to_text(content) if body.get("contentType") == "html" else content


def convert_body(body: dict[str, str], want: str) -> dict[str, str]:
    """``body`` as ``want`` (``text`` or ``html``) for the Prefer: outlook.body-content-type header."""
    if body.get("contentType") == want:
        return body
    if want == "text":
        return {"contentType": "text", "content": html_to_text(body.get("content") or "")}
    return {"contentType": "html", "content": text_to_html(body.get("content") or "")}
