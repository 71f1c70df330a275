"""The API key editor: save, reveal while held, delete with confirmation, the location in
words, no keyring (session only on request), a hanging keyring (timeout, app responsive),
the environment key read-only, and Validate (GET /key against the loopback fake)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox

from locallama_gui.core.settings import EndpointSettings
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.key_widget import HIDDEN_LABEL, KeyWidget, key_status_lines
from locallama_gui.gui.panes.settings import SettingsPane
from locallama_gui.secrets import SERVICE, USERNAME, KeyStore
from locallama_gui.services.live import LiveServices
from locallama_gui.sources.results import KeyStatus
from locallama_gui.store.paths import settings_path
from tests.fakes.fixtures import fake_api_key, openrouter_fake  # noqa: F401
from tests.secrets.fakes import HangingKeyring

KEY = "sk-or-v1-widgettest0123456789abcdefABCDEF"


def _start(qtbot, qloop, **kwargs) -> AppController:
    c = AppController(**kwargs)
    c.start()
    qtbot.waitUntil(lambda: c.services is not None and c.key_location is not None, timeout=15_000)
    return c


def _stop(qtbot, qloop, c: AppController) -> None:
    c.shutdown()
    qtbot.waitUntil(lambda: all(t.done() for t in asyncio.all_tasks(qloop)), timeout=5000)


@pytest.fixture
def controller(qtbot, qloop):
    c = _start(qtbot, qloop)
    yield c
    _stop(qtbot, qloop, c)


def _widget(qtbot, controller) -> KeyWidget:
    pane = SettingsPane(controller)
    qtbot.addWidget(pane)
    w = KeyWidget(controller)
    pane.set_api_key_widget(w)
    pane.show()
    qtbot.waitExposed(pane)
    assert pane.api_key_group.isAncestorOf(w)
    return w


def _texts(widget) -> str:
    """Every text a user can see or hover in the widget (labels, tooltips, placeholders)."""
    parts = [widget.toolTip()]
    for child in widget.findChildren(QLabel):
        parts += [child.text(), child.toolTip()]
    for edit in widget.findChildren(QLineEdit):
        parts += [edit.placeholderText(), edit.toolTip()]
    return "\n".join(parts)


def _save(qtbot, w: KeyWidget, key: str = KEY):
    w.key_edit.setText(key)
    with qtbot.waitSignal(w.saved, timeout=10_000) as sig:
        qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    return sig.args[0]


def test_save_reveal_while_held_and_delete_with_confirmation(qtbot, controller, memory_keyring):
    w = _widget(qtbot, controller)
    assert w.location_label.text() == "Where: No API key."
    assert not w.save_button.isEnabled() and not w.delete_button.isEnabled()

    w.key_edit.setText(KEY)
    assert w.key_edit.echoMode() == QLineEdit.EchoMode.Password
    qtbot.mousePress(w.reveal_button, Qt.MouseButton.LeftButton)
    assert w.revealed
    qtbot.mouseRelease(w.reveal_button, Qt.MouseButton.LeftButton)
    assert not w.revealed

    with qtbot.waitSignal(controller.key_changed, timeout=10_000):
        location = _save(qtbot, w)
    assert location.where == "keyring"
    assert memory_keyring.passwords[(SERVICE, USERNAME)] == KEY
    assert w.key_edit.text() == ""  # the key does not stay in the window
    assert w.location_label.text() == "Where: Stored in the system keyring (memory)."
    assert w.message == "Saved. Stored in the system keyring (memory)."
    assert w.delete_button.isEnabled()
    assert KEY not in _texts(w)

    # Replace it.
    _save(qtbot, w, KEY[:-4] + "WXYZ")
    assert memory_keyring.passwords[(SERVICE, USERNAME)] == KEY[:-4] + "WXYZ"

    # Delete: Cancel keeps it, Delete removes it.
    qtbot.mouseClick(w.delete_button, Qt.MouseButton.LeftButton)
    box = w.confirm_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert (SERVICE, USERNAME) in memory_keyring.passwords
    qtbot.mouseClick(w.delete_button, Qt.MouseButton.LeftButton)
    box = w.confirm_box
    delete = next(b for b in box.buttons() if b.text() == "Delete")
    with qtbot.waitSignal(w.deleted, timeout=10_000) as sig:
        qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)
    assert sig.args == [True]
    assert (SERVICE, USERNAME) not in memory_keyring.passwords
    qtbot.waitUntil(lambda: w.location_label.text() == "Where: No API key.", timeout=5000)
    assert not w.delete_button.isEnabled()


def test_text_that_is_not_a_key_is_refused_without_echoing_it(qtbot, controller):
    w = _widget(qtbot, controller)
    w.key_edit.setText("my-secret-password-123")
    assert w.save() is None
    assert "does not look like an OpenRouter API key" in w.message
    assert "my-secret-password-123" not in _texts(w)
    assert w.message_tone == "error"


def test_no_keyring_says_so_and_offers_this_session_only(qtbot, controller, memory_keyring):
    keyring.set_keyring(fail.Keyring())
    w = _widget(qtbot, controller)
    w.key_edit.setText(KEY)
    qtbot.mouseClick(w.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.session_button.isVisible(), timeout=10_000)
    assert "No system keyring is available" in w.message
    assert "session only" in w.message
    assert w.key_edit.text() == KEY  # kept, for the session-only choice
    assert controller.key_store.has_session_key is False  # nothing chosen for the user

    with qtbot.waitSignal(w.saved, timeout=10_000) as sig:
        qtbot.mouseClick(w.session_button, Qt.MouseButton.LeftButton)
    assert sig.args[0].where == "session"
    assert w.location_label.text() == "Where: Session only: forgotten when the app quits."
    assert not w.session_button.isVisible() and w.key_edit.text() == ""

    got: list[str | None] = []
    controller.runner.run_async("read", controller.key_store.get(), on_done=got.append)
    qtbot.waitUntil(lambda: got == [KEY], timeout=5000)


def test_a_hanging_keyring_times_out_and_the_app_stays_responsive(qtbot, qloop):
    c = _start(qtbot, qloop, key_store=KeyStore(timeout_s=3.0))
    hanging = HangingKeyring()
    keyring.set_keyring(hanging)  # locked from now on: the next call waits for a prompt
    try:
        w = _widget(qtbot, c)
        w.key_edit.setText(KEY)
        job = w.save()
        assert job is not None
        qtbot.waitUntil(hanging.entered.is_set, timeout=5000)
        assert not w.save_button.isEnabled()  # no second write while one is pending
        ticks: list[bool] = []
        QTimer.singleShot(0, lambda: ticks.append(True))
        qtbot.waitUntil(lambda: ticks == [True], timeout=2000)  # events flow during the hang
        assert not job.done()  # ... while the keyring still has not answered
        assert w.message == "Saving to the keyring…"

        qtbot.waitUntil(lambda: "did not answer" in w.message, timeout=10_000)
        assert w.message_tone == "error"
        assert "session-only key" in w.message
        assert w.session_button.isVisible()
        assert w.save_button.isEnabled()
        # a stuck keyring is not asked again: the next call fails at once, clearly
        calls = hanging.calls
        w.save()
        qtbot.waitUntil(lambda: w.session_button.isVisible() and w.save_button.isEnabled())
        assert hanging.calls == calls
        with qtbot.waitSignal(w.saved, timeout=5000):
            qtbot.mouseClick(w.session_button, Qt.MouseButton.LeftButton)
        assert c.key_store.has_session_key
    finally:
        hanging.release.set()
        _stop(qtbot, qloop, c)


def test_the_environment_key_is_read_only(qtbot, qloop, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    c = _start(qtbot, qloop)
    try:
        w = _widget(qtbot, c)
        assert w.from_environment
        assert "From the OPENROUTER_API_KEY environment variable (read-only)" in (
            w.location_label.text()
        )
        assert not w.key_edit.isEnabled()
        assert not w.save_button.isEnabled() and not w.delete_button.isEnabled()
        assert w.validate_button.isEnabled()
        assert KEY not in _texts(w)
    finally:
        _stop(qtbot, qloop, c)


@pytest.fixture
def fake_controller(qtbot, qloop, openrouter_fake, fake_api_key, memory_keyring):  # noqa: F811
    memory_keyring.set_password(SERVICE, USERNAME, fake_api_key)
    c = _start(qtbot, qloop)
    settings = c.services.settings
    endpoints = EndpointSettings(
        openrouter_url=openrouter_fake.base_url,
        ollama_enabled=False,
        lmstudio_enabled=False,
        extra_servers_enabled=False,
    )
    with qtbot.waitSignal(c.settings_changed, timeout=5000):
        c.apply_settings(replace(settings, endpoints=endpoints))
    yield c
    _stop(qtbot, qloop, c)


def _validate(qtbot, w: KeyWidget):
    with qtbot.waitSignal(w.validated, timeout=15_000) as sig:
        qtbot.mouseClick(w.validate_button, Qt.MouseButton.LeftButton)
    return sig.args[0]


def test_validate_shows_the_key_and_sets_the_free_cap(
    qtbot,
    fake_controller,
    openrouter_fake,  # noqa: F811
    fake_api_key,  # noqa: F811
):
    c = fake_controller
    w = _widget(qtbot, c)
    assert c.services.settings.routing.free_daily_cap_reported is None
    # OpenRouter says nothing of the cap: the 50/1000 rule, and the row says so
    status = _validate(qtbot, w)
    assert status.is_free_tier is True
    assert w.result_value("Label") == "sk-or-v1-fak...DEF"  # masked by OpenRouter: shown
    assert w.result_value("Usage") == "$3.25 (today $0.50, this week $1.25, this month $3.25)"
    assert w.result_value("Limit") == "$10.50, $7.25 left, resets monthly"
    assert w.result_value("Free models").startswith("OpenRouter did not say; by the 50/1000 rule")
    assert c.services.quota_status().per_day == 50
    assert openrouter_fake.requests_to("/key")[-1].headers["authorization"] == (
        f"Bearer {fake_api_key}"
    )

    # $5 bought: off the free tier, still 50 a day; never 1000 from is_free_tier
    openrouter_fake.is_free_tier = False
    openrouter_fake.free_daily = {"limit": 50, "remaining": 38, "used": 12}
    _validate(qtbot, w)
    assert w.result_value("Free models").startswith("50 requests a day, 38 left today")
    assert c.services.quota_status().per_day == 50
    assert c.services.quota_status().used_day >= 12

    openrouter_fake.free_daily = {"limit": 1000, "remaining": 988, "used": 12}  # ten bought
    _validate(qtbot, w)
    assert w.result_value("Free models").startswith("1,000 requests a day, 988 left today")
    assert c.services.quota_status().per_day == 1000
    qtbot.waitUntil(
        lambda: "free_daily_cap_reported = 1000" in settings_path().read_text(), timeout=5000
    )
    assert "1,000 requests a day" in w.message
    assert fake_api_key not in _texts(w)


def test_a_label_holding_the_whole_key_is_not_shown(qtbot, fake_controller, monkeypatch):
    async def leaky(self):
        return KeyStatus(label=f"key {self.api_key}", usage=Decimal("0"), is_free_tier=True)

    monkeypatch.setattr(LiveServices, "key_status", leaky)
    w = _widget(qtbot, fake_controller)
    _validate(qtbot, w)
    assert w.result_value("Label") == HIDDEN_LABEL
    assert "sk-or-" not in _texts(w)


def test_a_rejected_key_is_said_plainly(
    qtbot,
    qloop,
    openrouter_fake,  # noqa: F811
    memory_keyring,
):
    memory_keyring.set_password(SERVICE, USERNAME, KEY)  # not the key the fake accepts
    c = _start(qtbot, qloop)
    try:
        settings = c.services.settings
        endpoints = replace(settings.endpoints, openrouter_url=openrouter_fake.base_url)
        with qtbot.waitSignal(c.settings_changed, timeout=5000):
            c.apply_settings(replace(settings, endpoints=endpoints))
        w = _widget(qtbot, c)
        qtbot.mouseClick(w.validate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "did not accept" in w.message, timeout=15_000)
        assert w.message_tone == "error"
        assert not w.result_box.isVisible()
        assert KEY not in _texts(w)
    finally:
        _stop(qtbot, qloop, c)


def test_validate_without_a_key(qtbot, controller):
    w = _widget(qtbot, controller)
    qtbot.mouseClick(w.validate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "no key to validate" in w.message, timeout=10_000)


def test_status_lines_never_carry_a_label_judged_unsafe():
    status = KeyStatus(label="sk-or-v1-abc...xyz", usage=Decimal("1.5"), limit=None)
    rows = dict(key_status_lines(status, label_is_safe=True))
    assert rows["Label"] == "sk-or-v1-abc...xyz"
    assert rows["Limit"] == "none on this key"
    assert rows["Free models"].startswith("OpenRouter did not say; by the 50/1000 rule")
    assert dict(key_status_lines(status, label_is_safe=False))["Label"] == HIDDEN_LABEL
