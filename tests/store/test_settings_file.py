from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from locallama_gui.core.settings import (
    AppearanceSettings,
    EndpointSettings,
    RoutingSettings,
    Settings,
)
from locallama_gui.store import paths
from locallama_gui.store.settings_file import load_settings, save_settings

# --------------------------------------------------------------------------- paths


def test_locallama_home_roots_every_dir(_isolated_home: Path) -> None:
    assert paths.home_root() == _isolated_home
    assert paths.config_dir() == _isolated_home / "config"
    assert paths.data_dir() == _isolated_home / "data"
    assert paths.log_dir() == _isolated_home / "logs"
    assert paths.cache_dir() == _isolated_home / "cache"
    for sub in ("config", "data", "logs", "cache"):
        assert (_isolated_home / sub).is_dir()


def test_dirs_are_created_on_demand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "fresh" / "home"
    monkeypatch.setenv("LOCALLAMA_HOME", str(home))
    assert not home.exists()
    assert paths.cache_dir().is_dir()
    assert not (home / "data").exists()


def test_without_home_uses_platformdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCALLAMA_HOME")
    calls: list[str] = []

    def fake(kind: str):
        def user_dir(appname: str, appauthor: object = None) -> str:
            calls.append(appname)
            return str(tmp_path / "platform" / kind)

        return user_dir

    for kind in ("config", "data", "log", "cache"):
        monkeypatch.setattr(paths.platformdirs, f"user_{kind}_dir", fake(kind))
    assert paths.home_root() is None
    assert paths.config_dir() == tmp_path / "platform" / "config"
    assert paths.data_dir() == tmp_path / "platform" / "data"
    assert paths.log_dir() == tmp_path / "platform" / "log"
    assert paths.cache_dir() == tmp_path / "platform" / "cache"
    assert set(calls) == {"locallama-router"}
    assert (tmp_path / "platform" / "data").is_dir()


def test_empty_home_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALLAMA_HOME", "  ")
    assert paths.home_root() is None


# --------------------------------------------------------------------------- load / save


def test_missing_file_gives_defaults_and_creates_nothing(_isolated_home: Path) -> None:
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert loaded.error is None
    assert loaded.path == _isolated_home / "config" / "settings.toml"
    assert not loaded.path.exists()


def test_save_then_load_round_trip(_isolated_home: Path) -> None:
    s = Settings(
        endpoints=EndpointSettings(ollama_url="http://gpu:11434", extra_server_urls=()),
        routing=RoutingSettings(
            free_preference="only",
            priority="quality",
            budget_usd=Decimal("0.25"),
            quality_floor=0.7,
            fallback_depth=7,
            credits_purchased=True,
        ),
        appearance=AppearanceSettings(theme="dark"),
    )
    written = save_settings(s)
    assert written == _isolated_home / "config" / "settings.toml"
    loaded = load_settings()
    assert loaded.error is None
    assert loaded.settings == s
    assert 'budget_usd = "0.25"' in written.read_text(encoding="utf-8")


def test_save_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "cfg" / "settings.toml"
    save_settings(Settings(), target)
    save_settings(Settings(routing=RoutingSettings(priority="cost")), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["settings.toml"]
    assert load_settings(target).settings.routing.priority == "cost"


def test_failed_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "cfg" / "settings.toml"
    save_settings(Settings(routing=RoutingSettings(priority="speed")), target)
    before = target.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_settings(Settings(routing=RoutingSettings(priority="cost")), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["settings.toml"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[routing]\nfallback_depth = 42\n", "routing.fallback_depth"),
        ("[appearance]\ntheme = 'neon'\n", "appearance.theme"),
        ("[routing]\nsurprise = true\n", "routing.surprise"),
        ("[routing\npriority = 'cost'\n", "not valid TOML"),
    ],
)
def test_invalid_file_gives_defaults_and_is_left_alone(
    tmp_path: Path, text: str, needle: str
) -> None:
    target = tmp_path / "settings.toml"
    target.write_text(text, encoding="utf-8")
    before = target.read_bytes()
    loaded = load_settings(target)
    assert loaded.settings == Settings()
    assert loaded.error is not None
    assert needle in loaded.error
    assert str(target) in loaded.error
    assert target.read_bytes() == before


def test_secret_in_file_is_reported_without_the_value(tmp_path: Path) -> None:
    target = tmp_path / "settings.toml"
    target.write_text('[endpoints]\nopenrouter_api_key = "sk-or-v1-deadbeef"\n')
    loaded = load_settings(target)
    assert loaded.settings == Settings()
    assert loaded.error is not None
    assert "endpoints.openrouter_api_key" in loaded.error
    assert "sk-or-v1-deadbeef" not in loaded.error


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    target = tmp_path / "settings.toml"
    target.write_bytes(b"\xff\xfe\x00garbage")
    loaded = load_settings(target)
    assert loaded.settings == Settings()
    assert loaded.error is not None
    assert str(target) in loaded.error
    assert target.read_bytes() == b"\xff\xfe\x00garbage"
