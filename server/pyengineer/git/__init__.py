"""Git: the state of the repository, branch names, and safe branch creation."""
