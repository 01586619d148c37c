"""Start python-lsp-server with its 500 ms lint debounce set to 0, like pyengineer's `debounceMs: 0` in the bench.

pylsp applies `@debounce(LINT_DEBOUNCE_S)` when its module is imported, so the interval is patched in
`pylsp._utils` before `pylsp.python_lsp` is imported. Run with the bench venv's interpreter.
"""

from __future__ import annotations

import sys

import pylsp._utils as pylsp_utils  # type: ignore[import-not-found]

_debounce = pylsp_utils.debounce


def _no_wait(interval_s: float, keyed_by: str | None = None):  # type: ignore[no-untyped-def]
    return _debounce(0, keyed_by=keyed_by)


pylsp_utils.debounce = _no_wait

from pylsp.__main__ import main  # type: ignore[import-not-found]  # noqa: E402

sys.exit(main())
