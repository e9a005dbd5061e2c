"""Shared fixtures. Tests that read ../shared skip when it is absent (a user's clone)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
FIXTURES = REPO / "tests" / "fixtures"
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not present (it sits beside the checkout in CI only)")
    return SHARED


@pytest.fixture(scope="session")
def default_pack():
    from recaudit.rulepack import load_pack

    return load_pack("wales-children")


@pytest.fixture
def listing_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`rules list` records listings; keep a test's records out of the user's cache folder."""
    folder = tmp_path / "listing-cache"
    monkeypatch.setenv("RECAUDIT_CACHE_DIR", str(folder))
    monkeypatch.delenv("RECAUDIT_NO_CACHE", raising=False)
    return folder
