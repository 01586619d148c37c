"""PE101's "being changed" through the real server: a buffer differing from HEAD's blob, not "typed since
opened"; an edit undone (the buffer is HEAD's text again, the file clean) clears it."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pyengineer.git.committed import Blob, blob_oid, committed_blob, differs_from_committed, same_as_committed
from pyengineer.git.state import read_git_state
from pytest_lsp import LanguageClient

from tests.lsp.conftest import codes, git, lsp_session, make_repo, open_doc, wait_for, wait_for_codes

pytestmark = pytest.mark.timeout(90)

APP = "def greet(name: str) -> str:\n    return 'hello ' + name\n"


def change(lsp: LanguageClient, uri: str, text: str, version: int) -> None:
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def test_undoing_an_edit_clears_pe101_and_a_new_edit_brings_it_back(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "svc", {"app.py": APP, "requirements.txt": "flask\n"})
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, repo / "app.py")
        await wait_for(lambda: uri in lsp.diagnostics)  # published for the opened text: no PE101
        assert "PE101" not in codes(lsp, uri)
        change(lsp, uri, APP + "# more\n", 2)
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)
        change(lsp, uri, APP, 3)  # undo: the buffer is HEAD's text again, and git says the file is clean
        await wait_for_codes(lsp, uri, lambda c: "PE101" not in c)
        change(lsp, uri, APP.replace("hello", "hi"), 4)  # same length, other bytes: the hash decides
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)
        change(lsp, uri, APP.replace("\n", "\r\n"), 5)  # the editor's line ends: still HEAD's text
        await wait_for_codes(lsp, uri, lambda c: "PE101" not in c)


async def test_a_file_git_reports_changed_keeps_pe101_when_the_buffer_equals_head(tmp_path: Path) -> None:
    """git's word counts too: the file on disk was changed (and saved) while the buffer holds HEAD's text."""
    repo = make_repo(tmp_path / "svc", {"app.py": APP, "requirements.txt": "flask\n"})
    (repo / "app.py").write_text(APP + "x = 1\n", encoding="utf-8")
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, repo / "app.py")
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)
        change(lsp, uri, APP, 2)
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)


def test_blob_ids_match_git_and_follow_head(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pkg/my app.py": APP})
    state = read_git_state(repo)
    assert state.toplevel is not None
    blob = committed_blob(state.toplevel, state.head, "pkg/my app.py")
    assert blob == Blob(len(APP), git(repo, "hash-object", "pkg/my app.py").strip())
    assert blob_oid(APP.encode()) == blob.oid
    assert same_as_committed(APP, blob)
    with_bom = b"\xef\xbb\xbf" + APP.encode()  # committed with a byte-order mark, which editors do not show
    assert same_as_committed(APP, Blob(len(with_bom), blob_oid(with_bom)))
    assert not same_as_committed(APP + " ", blob)
    assert committed_blob(state.toplevel, state.head, "missing.py") is None
    path = str(repo / "pkg" / "my app.py")
    assert not differs_from_committed(path, APP, state)
    # A commit moves HEAD: the new blob is read for the new commit, not the cached one.
    (repo / "pkg" / "my app.py").write_text(APP + "y = 2\n", encoding="utf-8")
    git(repo, "commit", "-qam", "more")
    after = read_git_state(repo)
    assert differs_from_committed(path, APP, after)
    assert not differs_from_committed(path, APP + "y = 2\n", after)
