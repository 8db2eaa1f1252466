"""How a page's bytes become text, the same for every source (files, the web, WARC
records): a byte-order mark first, then the HTTP header's charset and the page's own
``<meta>``, each believed only where the bytes bear it out; undeclared bytes are UTF-8,
with Windows-1252 where they are not valid UTF-8."""

from __future__ import annotations

import codecs

from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
)

# What the bytes were read as when nothing true was declared.
UNDECLARED = "utf-8 or windows-1252"
# A UTF-16 or UTF-32 text has NUL bytes among its first ones; an ASCII-compatible one none.
WIDE_SNIFF_BYTES = 4096


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode the bytes that are not UTF-8 as Windows-1252 (Latin-1 where it has a hole)."""
    assert isinstance(error, UnicodeDecodeError)
    chunk = error.object[error.start : error.end]
    return chunk.decode("cp1252", errors="replace"), error.end


# Undeclared text is UTF-8, Windows-1252 (which reads ISO-8859-1 text too), or a mix of
# both when a file was pasted together: UTF-8 where it is valid, Windows-1252 elsewhere.
codecs.register_error("newsdedup-cp1252", _cp1252_fallback)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _borne_out(declared: str, body: bytes, wide_allowed: bool) -> str | None:
    """DECLARED, or what it must mean, where BODY can be in it; None where it cannot."""
    if declared.replace("-", "").replace("_", "").lower().startswith(("utf16", "utf32")):
        # A <meta> that its page could be read to find is in an ASCII-compatible encoding
        # (the WHATWG rules read such a page as UTF-8); a header may be right, where the
        # bytes are wide.
        if not wide_allowed or b"\x00" not in body[:WIDE_SNIFF_BYTES]:
            return None
    elif declared != "utf-8" and not body.isascii() and _is_utf8(body):
        # Valid UTF-8 beyond ASCII is all but never text in a legacy single-byte encoding
        # (there it would be sequences such as "Ã©"): the label is a template's leftover.
        return "utf-8"
    try:
        body.decode(declared)
    except (LookupError, UnicodeDecodeError):
        return None
    return declared


def declared_encoding(body: bytes, html: bool, content_type: str | None = None) -> str | None:
    """The encoding that BODY declares and bears out: a byte-order mark; then the charset
    of CONTENT_TYPE (an HTTP header); for HTML, then its ``<meta charset>``. Plain text has
    no markup: a ``<meta>`` in its words means nothing."""
    bom, _ = read_bom(body)
    if bom:
        return str(bom)
    header = http_content_type_encoding(content_type) if content_type else None
    if header is not None:
        found = _borne_out(header, body, wide_allowed=True)
        if found is not None:
            return found
    if not html:
        return None
    meta = html_body_declared_encoding(body)
    return _borne_out(meta, body, wide_allowed=False) if meta is not None else None


def to_text(body: bytes, html: bool, content_type: str | None = None) -> tuple[str, str]:
    """(encoding, text) of BODY, by the rules above."""
    declared = declared_encoding(body, html, content_type)
    if declared is None:
        return UNDECLARED, body.decode("utf-8", errors="newsdedup-cp1252")
    encoding, text = html_to_unicode(f"charset={declared}", body)
    return encoding, text
