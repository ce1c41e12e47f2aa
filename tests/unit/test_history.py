"""History: the tiny PDF writer behind the copy of a bill."""

from __future__ import annotations

import re

from bot.services.history import simple_pdf


def test_pdf_escapes_parentheses_backslashes_and_non_latin_text():
    body = simple_pdf(["Title (draft)", "a\\b", "caf\u00e9 \u2603"], title="T")
    assert b"(Title \\(draft\\)) Tj" in body
    assert b"(a\\\\b) Tj" in body
    assert "(caf\u00e9 ?) Tj".encode("latin-1") in body
    start = int(re.search(rb"startxref\n(\d+)\n", body).group(1))
    assert body[start:].startswith(b"xref\n0 7\n")
    assert body.endswith(b"%%EOF\n")
