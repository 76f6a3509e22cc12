"""Markdown to safe HTML, the one function every rendering path uses (web, e-mail, feeds).

markdown-it-py with raw HTML disabled, then nh3 (ammonia) with an allow-list, so neither
a <script> nor a javascript: link nor an event-handler attribute survives."""

import html

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
    "del",
}
_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


def markdown_to_html(text: str) -> str:
    html = _MARKDOWN.render(text or "")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def markdown_to_text(text: str) -> str:
    """Plain text for the text/plain e-mail part: the Markdown itself, minus any HTML tags
    a writer may have typed (a mail client never renders text/plain as HTML anyway)."""
    return html.unescape(nh3.clean(text or "", tags=set()))
