"""The LSP layer: thin wiring between pygls and the engine. Only this package imports pygls/lsprotocol."""
