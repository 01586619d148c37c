"""Side effects, each small and safe: text edits, branch creation, hand-off documents, test runs."""
