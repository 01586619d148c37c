"""`# noqa` and `# noqa: PE301, PE302` suppression comments, as ruff reads them."""

from __future__ import annotations

import re

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def suppressed(line_text: str, code: str) -> bool:
    """True if `line_text` carries a noqa comment that covers `code`."""
    if "#" not in line_text:
        return False
    for match in _NOQA.finditer(line_text):
        codes = match.group("codes")
        if codes is None:
            return True
        if code.upper() in {c.strip().upper() for c in codes.split(",")}:
            return True
    return False


def code_spans(line_text: str) -> list[tuple[int, int, str]]:
    """(start, end, CODE) of each code named in the noqa comments of `line_text` (for hover)."""
    spans = []
    for match in _NOQA.finditer(line_text):
        codes = match.group("codes")
        if codes is None:
            continue
        offset = match.start("codes")
        for code in re.finditer(r"[A-Za-z]+[0-9]+", codes):
            spans.append((offset + code.start(), offset + code.end(), code.group().upper()))
    return spans


def with_noqa(line_text: str, code: str) -> str | None:
    """`line_text` (without its line ending) with `code` added to its noqa comment, other tools' codes kept:
    `x = 1  # noqa: E501` -> `x = 1  # noqa: E501, PE301`; a new `  # noqa: PE301` at the end otherwise.

    None when the line already suppresses `code`, or when a comment cannot go at its end: after a `\\`
    continuation the comment would swallow the line break. (A line that ends inside a multi-line string is
    the caller's to rule out: that takes the tokens of the whole document.)
    """
    if suppressed(line_text, code):
        return None
    for match in _NOQA.finditer(line_text):
        if match.group("codes") is not None:
            end = match.end("codes")
            return f"{line_text[:end]}, {code}{line_text[end:]}"
    body = line_text.rstrip()
    if body.endswith("\\"):
        return None
    return f"{body}  # noqa: {code}"


def lines_inside_strings(text: str) -> set[int]:
    """0-based lines whose end is inside a string (a triple-quoted string, or an f-string's literal part,
    spanning lines): a comment added there would become part of the string. Empty if `text` does not tokenize.
    """
    import io
    import tokenize

    inside: set[int] = set()
    multi_line = {tokenize.STRING}
    fstring_middle = getattr(tokenize, "FSTRING_MIDDLE", None)  # Python 3.12+
    if fstring_middle is not None:
        multi_line.add(fstring_middle)
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in multi_line and token.end[0] > token.start[0]:
                inside.update(range(token.start[0] - 1, token.end[0] - 1))
    except (tokenize.TokenError, SyntaxError):
        return inside
    return inside
