from typing import Any

import pytest

from bulwark.findings.tests.world import World


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world(db: Any) -> World:
    return World()
