"""Demo history for the statistics pages (filled in below)."""


def load() -> None:
    """Idempotent."""
