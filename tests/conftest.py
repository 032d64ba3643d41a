from pathlib import Path

import pytest

from matching.contract import load_region

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_region():
    return load_region(ROOT / "data" / "demo")
