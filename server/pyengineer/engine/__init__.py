"""The rule engine: pure functions from a document snapshot to findings."""
