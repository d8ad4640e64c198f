import pytest


@pytest.fixture(autouse=True)
def _import_settings(settings, tmp_path):
    """Uploads and reports go to a temporary folder; django-q2 tasks run inline (no cluster in these tests)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
