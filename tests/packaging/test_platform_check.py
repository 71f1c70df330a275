"""The check before Qt loads its platform plugin: missing system libraries are named, with
the packages to install, and the app exits with a status of its own instead of aborting."""

from __future__ import annotations

import subprocess
import sys

from locallama_gui.gui import platform_check as pc


def test_the_platform_qt_will_load_follows_the_environment():
    assert pc.expected_platform({"QT_QPA_PLATFORM": "offscreen"}) == "offscreen"
    assert pc.expected_platform({"QT_QPA_PLATFORM": "wayland;xcb"}) == "wayland"
    assert pc.expected_platform({"QT_QPA_PLATFORM": "xcb:foo=1"}) == "xcb"
    assert pc.expected_platform({"WAYLAND_DISPLAY": "wayland-0"}) == "wayland"
    assert pc.expected_platform({"DISPLAY": ":0"}) == "xcb"


def test_missing_xcb_libraries_are_named_with_packages_for_each_family():
    absent = {"libxcb-cursor.so.0", "libxcb-icccm.so.4"}
    missing = pc.missing_libraries(
        {"DISPLAY": ":0"}, platform="linux", loads=lambda s: s not in absent
    )
    assert missing is not None and set(missing.sonames) == absent
    text = missing.message()
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in text
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in text
    assert "sudo pacman -S xcb-util-cursor xcb-util-wm" in text


def test_only_what_the_platform_needs_is_checked():
    asked: list[str] = []

    def loads(soname: str) -> bool:
        asked.append(soname)
        return True

    offscreen = {"QT_QPA_PLATFORM": "offscreen"}
    assert pc.missing_libraries(offscreen, platform="linux", loads=loads) is None
    assert set(asked) == set(pc.COMMON)  # no X11 library for offscreen
    assert pc.missing_libraries({}, platform="darwin", loads=lambda s: False) is None
    assert pc.missing_libraries({}, platform="win32", loads=lambda s: False) is None
    every = pc.missing_libraries({"DISPLAY": ":0"}, platform="linux", loads=lambda s: False)
    assert every is not None and set(every.sonames) == set(pc.COMMON) | set(pc.XCB)


def test_the_app_exits_with_the_message_before_importing_qt():
    code = (
        "import sys\n"
        "from locallama_gui.gui import platform_check as pc, launch\n"
        "pc._loads = lambda s: s != 'libxcb-cursor.so.0'\n"
        "try:\n"
        "    launch.main(['locallama-gui'])\n"
        "except SystemExit as e:\n"
        "    assert 'PySide6.QtGui' not in sys.modules, 'Qt was imported first'\n"
        "    raise\n"
    )
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": ":0", "HOME": "/tmp"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    if sys.platform != "linux":
        return
    assert proc.returncode == pc.EXIT_MISSING_LIBRARIES, proc.stderr
    assert "libxcb-cursor.so.0" in proc.stderr and "libxcb-cursor0" in proc.stderr
    assert "Traceback" not in proc.stderr
