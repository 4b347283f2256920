"""Test support: databases on both engines, a live server, where the shared data lives."""

import os
from pathlib import Path


def shared_dir() -> Path:
    """``../shared`` beside the repository, or CARELINE_SHARED_DIR (CI sets it for clones kept elsewhere)."""
    configured = os.environ.get("CARELINE_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2].parent / "shared"
