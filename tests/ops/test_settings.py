"""The operations settings are read from the environment and a mistake names the variable."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings
from bot.runner import build_children


def test_operations_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    monkeypatch.setenv("LOG_MAX_BYTES", "2048")
    monkeypatch.setenv("LOG_BACKUP_COUNT", "3")
    monkeypatch.setenv("METRICS_ALLOW", "10.0.0.0/8, 192.168.1.5")
    monkeypatch.setenv("READY_CHECKS", "database,rasa")
    monkeypatch.setenv("METRICS_TOKEN", "t" * 40)
    settings = load_settings(tmp_path / "missing.env")
    assert settings.log_format == "json"
    assert settings.metrics_allow == ("10.0.0.0/8", "192.168.1.5")
    assert settings.ready_checks == ("database", "rasa")
    assert "t" * 40 not in repr(settings)
    children = build_children(settings, tmp_path / "endpoints.yml", gateway=False)
    assert {(c.max_bytes, c.backup_count) for c in children} == {(2048, 3)}


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOG_FORMAT", "xml"), ("METRICS_ALLOW", "everyone"), ("READY_CHECKS", "database,dns")],
)
def test_a_wrong_operations_setting_names_the_variable(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings(tmp_path / "missing.env")
