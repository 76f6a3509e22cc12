from typing import Any

import pytest

from bulwark.advisories.tests.world import World


@pytest.fixture
def world(db: Any) -> World:
    return World()
