import pytest

from .harness import require_services


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def services():
    """The real Kafka and Redis started by deploy/local (tests fail, never skip, without them)."""
    require_services()
