"""``locallama key set | status | delete``: stdin or prompt only, and the key is never printed."""

from __future__ import annotations

import io
import json

import keyring
from keyring.backends import fail

from locallama_gui.cli import key_commands
from locallama_gui.secrets import ENV_VAR, SERVICE, USERNAME

KEY = "sk-or-v1-" + "0123456789abcdef" * 4


class Stdin(io.StringIO):
    def __init__(self, text: str, tty: bool = False) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def run(capsys, monkeypatch, *argv: str, stdin: str = "", tty: bool = False):
    monkeypatch.setattr("sys.stdin", Stdin(stdin, tty))
    code = key_commands.main(list(argv))
    out, err = capsys.readouterr()
    assert KEY not in out and KEY not in err
    return code, out, err


def test_set_reads_the_key_from_stdin(capsys, monkeypatch, memory_keyring):
    code, out, _ = run(capsys, monkeypatch, "key", "set", stdin=KEY + "\n")
    assert code == 0
    assert "API key saved. Stored in the system keyring (memory)." in out
    assert memory_keyring.passwords == {(SERVICE, USERNAME): KEY}


def test_set_prompts_on_a_terminal_without_echo(capsys, monkeypatch, memory_keyring):
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return KEY

    monkeypatch.setattr(key_commands.getpass, "getpass", fake_getpass)
    code, _, _ = run(capsys, monkeypatch, "key", "set", tty=True)
    assert code == 0
    assert prompts == ["OpenRouter API key (input hidden): "]
    assert memory_keyring.get_password(SERVICE, USERNAME) == KEY


def test_set_refuses_the_key_as_an_argument_without_repeating_it(
    capsys, monkeypatch, memory_keyring
):
    code, _, err = run(capsys, monkeypatch, "key", "set", KEY, stdin=KEY)
    assert code == 1
    assert "never taken as an argument" in err
    assert memory_keyring.passwords == {}


def test_set_rejects_a_malformed_key_clearly(capsys, monkeypatch, memory_keyring):
    bad = "sk-proj-" + "x" * 40
    code, _, err = run(capsys, monkeypatch, "key", "set", stdin=bad)
    assert code == 1
    assert "does not look like an OpenRouter API key" in err
    assert bad not in err
    assert memory_keyring.passwords == {}


def test_without_a_system_keyring_the_cli_points_to_the_environment(capsys, monkeypatch):
    keyring.set_keyring(fail.Keyring())
    code, _, err = run(capsys, monkeypatch, "key", "set", stdin=KEY)
    assert code == 1
    assert "No system keyring" in err and ENV_VAR in err


def test_set_and_delete_refuse_when_the_key_comes_from_the_environment(
    capsys, monkeypatch, memory_keyring
):
    monkeypatch.setenv(ENV_VAR, KEY)
    code, _, err = run(capsys, monkeypatch, "key", "set", stdin=KEY)
    assert code == 1 and "environment variable" in err
    code, _, err = run(capsys, monkeypatch, "key", "delete")
    assert code == 1 and "environment variable" in err
    code, out, _ = run(capsys, monkeypatch, "key", "status", "--json")
    assert code == 0
    assert json.loads(out)["where"] == "env"
    assert memory_keyring.passwords == {}


def test_status_json_shape_through_set_and_delete(capsys, monkeypatch, memory_keyring):
    code, out, _ = run(capsys, monkeypatch, "key", "status", "--json")
    assert code == 0
    assert json.loads(out) == {
        "present": False,
        "where": None,
        "backend": "tests.secrets.memory_keyring.MemoryKeyring",
        "is_system": True,
    }
    run(capsys, monkeypatch, "key", "set", stdin=KEY)
    code, out, _ = run(capsys, monkeypatch, "key", "status", "--json")
    assert json.loads(out) == {
        "present": True,
        "where": "keyring",
        "backend": "tests.secrets.memory_keyring.MemoryKeyring",
        "is_system": True,
    }
    code, out, _ = run(capsys, monkeypatch, "key", "status")
    assert "API key: present" in out and "Stored in the system keyring (memory)" in out

    code, out, _ = run(capsys, monkeypatch, "key", "delete")
    assert code == 0 and "deleted" in out
    assert memory_keyring.passwords == {}
    code, out, _ = run(capsys, monkeypatch, "key", "status", "--json")
    assert json.loads(out)["present"] is False
    code, out, _ = run(capsys, monkeypatch, "key", "delete")
    assert code == 0 and "No stored API key" in out


def test_key_without_an_action_is_a_usage_error(capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, "key")
    assert code == 2 and "choose an action" in err
