"""The package's version, in one place: pyproject.toml reads it from here, and every layer
may import it (it imports nothing)."""

__version__ = "0.1.0"
