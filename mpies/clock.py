"""Durations as people read them, for the progress line and ``mpies inspect``."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """``seconds`` as ``12.3s`` under a minute, else ``M:SS``, or ``H:MM:SS`` from an hour on."""
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
