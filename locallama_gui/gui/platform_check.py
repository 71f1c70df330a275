"""Before Qt loads its platform plugin on Linux: are the system libraries it needs there?

Qt's wheels bring Qt, not the X11 and font libraries of the system. When one is missing,
Qt aborts with a message about "xcb-cursor0" and a core dump; this check names every missing
library and the packages to install on Debian/Ubuntu, Fedora and Arch, and the app exits with
:data:`EXIT_MISSING_LIBRARIES` instead. It imports no Qt and costs a few dlopen calls.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

EXIT_MISSING_LIBRARIES = 3

#: soname -> (Debian/Ubuntu, Fedora, Arch) package. Every platform plugin needs the first
#: group; the xcb (X11) plugin the rest (the DT_NEEDED of libQt6XcbQpa and libqxcb).
COMMON: Mapping[str, tuple[str, str, str]] = {
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
}
XCB: Mapping[str, tuple[str, str, str]] = {
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-render-util.so.0": (
        "libxcb-render-util0",
        "xcb-util-renderutil",
        "xcb-util-renderutil",
    ),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
}
#: Platforms that draw nothing on a screen still need the common libraries.
HEADLESS = ("offscreen", "minimal", "vnc")


@dataclass(frozen=True, slots=True)
class Missing:
    platform: str
    sonames: tuple[str, ...]

    def packages(self, distro: int) -> list[str]:
        table = {**COMMON, **XCB}
        return sorted({table[s][distro] for s in self.sonames})

    def message(self) -> str:
        names = ", ".join(self.sonames)
        return "\n".join(
            [
                f'locallama-gui: the Qt "{self.platform}" platform needs system libraries '
                f"that are missing: {names}",
                "Install them, then start the app again:",
                "  Debian, Ubuntu: sudo apt install " + " ".join(self.packages(0)),
                "  Fedora:         sudo dnf install " + " ".join(self.packages(1)),
                "  Arch:           sudo pacman -S " + " ".join(self.packages(2)),
                "(the command line, locallama, needs none of them)",
            ]
        )


def expected_platform(env: Mapping[str, str]) -> str:
    """The platform plugin Qt will load, as far as the environment says."""
    asked = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if asked:
        return asked
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "xcb"


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(
    env: Mapping[str, str] | None = None,
    *,
    platform: str | None = None,
    loads: Callable[[str], bool] | None = None,
) -> Missing | None:
    """What the platform plugin Qt is about to load lacks on this Linux system (None: all
    there, or not Linux)."""
    if (platform or sys.platform) != "linux":
        return None
    qpa = expected_platform(os.environ if env is None else env)
    wanted = list(COMMON)
    if qpa == "xcb":
        wanted += list(XCB)
    elif qpa not in HEADLESS and qpa != "wayland":
        return None  # eglfs, linuxfb and the like: their owners know what they need
    load = loads or _loads
    lacking = tuple(s for s in wanted if not load(s))
    return Missing(qpa, lacking) if lacking else None


def check_or_exit() -> None:
    """Print what to install and exit when a library Qt needs is missing."""
    missing = missing_libraries()
    if missing is not None:
        print(missing.message(), file=sys.stderr)
        raise SystemExit(EXIT_MISSING_LIBRARIES)


__all__ = [
    "COMMON",
    "EXIT_MISSING_LIBRARIES",
    "XCB",
    "Missing",
    "check_or_exit",
    "expected_platform",
    "missing_libraries",
]
