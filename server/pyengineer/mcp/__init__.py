"""The Model Context Protocol server: pyengineer for coding agents."""
