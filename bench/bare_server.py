"""The start-up floor: a pygls language server that registers nothing and answers `initialize` over stdio."""

from pygls.lsp.server import LanguageServer

if __name__ == "__main__":
    LanguageServer("bare", "0").start_io()
