"""Build the one-folder desktop bundle: ``python packaging/build.py``.

1. Renders the icon set from ``resources/icon.svg`` with Qt's SVG renderer: PNGs from 16 to
   1024 px, a Windows ``.ico`` and a macOS ``.icns`` (both containers written here from the
   PNG bytes), into ``build/icons/``.
2. Runs PyInstaller with ``packaging/locallama-gui.spec`` (``dist/locallama-gui/``, or
   ``dist/LocaLLama Router.app`` on macOS; work files in ``build/pyinstaller/``).
3. Prints the bundle's path, its size, the build time and its start-up time (launch to the
   first painted window, the median of a few runs).

``--icons-only`` stops after step 1. Needs the ``bundle`` extra: ``pip install -e '.[bundle]'``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "locallama-gui.spec"
SVG = ROOT / "resources" / "icon.svg"
BUILD = ROOT / "build"
ICONS = BUILD / "icons"
DIST = ROOT / "dist"
WORK = BUILD / "pyinstaller"
APP_DIR_NAME = "locallama-gui"
MAC_APP_NAME = "LocaLLama Router.app"

#: PNG sizes rendered from the SVG (hicolor theme sizes, and 1024 for the retina .icns entry).
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
#: Sizes in the .ico (Windows shows 16..256; 256 is stored as 0 in the directory).
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
#: PNG-based .icns entries: type -> pixel size.
ICNS_TYPES = {b"ic07": 128, b"ic08": 256, b"ic09": 512, b"ic10": 1024}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- icons


def render_pngs(svg: Path, sizes: Iterable[int] = PNG_SIZES) -> dict[int, bytes]:
    """``{size: PNG bytes}``: the SVG rendered square at each size on a transparent ground."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(["icons"])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"cannot render {svg}: not a valid SVG")
    out: dict[int, bytes] = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buf, "PNG"):
            raise SystemExit(f"cannot encode the {size} px icon as PNG")
        buf.close()
        out[size] = bytes(data.data())
    del _app
    return out


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if png[:8] != PNG_MAGIC or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def write_ico(pngs: Mapping[int, bytes]) -> bytes:
    """A Windows ICO holding each PNG as is (PNG entries: Windows Vista and later).

    ICONDIR (reserved 0, type 1, count), one 16-byte ICONDIRENTRY per image (width and
    height with 256 written as 0, no palette, 1 plane, 32 bpp, byte size, offset), then the
    images.
    """
    images = sorted(pngs.items())
    if not images:
        raise ValueError("an icon needs at least one image")
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries = b""
    blobs = b""
    for size, png in images:
        width, height = png_size(png)
        if width != size or height != size or not 1 <= size <= 256:
            raise ValueError(f"an ICO image must be square, 1..256 px (got {width}x{height})")
        entries += struct.pack(
            "<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset + len(blobs)
        )
        blobs += png
    return header + entries + blobs


def write_icns(pngs: Mapping[bytes, bytes]) -> bytes:
    """A macOS ICNS of PNG entries: ``{b"ic07": png, ...}``.

    The file is ``icns`` + total length (big-endian u32), then for each entry its type, its
    length including the 8-byte entry header, and the PNG.
    """
    body = b""
    for kind, png in sorted(pngs.items()):
        if len(kind) != 4:
            raise ValueError(f"an ICNS type has four characters (got {kind!r})")
        png_size(png)  # a PNG or ValueError
        body += kind + struct.pack(">I", 8 + len(png)) + png
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def build_icons(svg: Path = SVG, out_dir: Path = ICONS) -> dict[str, Path]:
    """PNGs (``locallama-router-<size>.png``), ``locallama-router.ico`` and ``.icns``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = render_pngs(svg)
    written: dict[str, Path] = {}
    for size, png in pngs.items():
        path = out_dir / f"locallama-router-{size}.png"
        path.write_bytes(png)
        written[f"png{size}"] = path
    ico = out_dir / "locallama-router.ico"
    ico.write_bytes(write_ico({s: pngs[s] for s in ICO_SIZES}))
    icns = out_dir / "locallama-router.icns"
    icns.write_bytes(write_icns({kind: pngs[size] for kind, size in ICNS_TYPES.items()}))
    shutil.copyfile(svg, out_dir / "locallama-router.svg")
    written.update(ico=ico, icns=icns, svg=out_dir / "locallama-router.svg")
    return written


# --------------------------------------------------------------------------- the bundle


def bundle_dir() -> Path:
    if sys.platform == "darwin":
        return DIST / MAC_APP_NAME
    return DIST / APP_DIR_NAME


def bundle_executable(root: Path | None = None) -> Path:
    base = root or bundle_dir()
    if sys.platform == "darwin":
        return base / "Contents" / "MacOS" / APP_DIR_NAME
    return base / (f"{APP_DIR_NAME}.exe" if sys.platform == "win32" else APP_DIR_NAME)


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def run_pyinstaller(clean: bool = True) -> float:
    """Run PyInstaller on the spec; the seconds it took."""
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(DIST),
        "--workpath",
        str(WORK),
        str(SPEC),
    ]
    if clean:
        cmd.insert(3, "--clean")
    started = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.monotonic() - started


def startup_ms(executable: Path, runs: int = 3) -> float | None:
    """Median launch-to-first-paint of the bundle in ms (see packaging/startup_bench.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from startup_bench import measure

    try:
        times = [measure([str(executable), "--startup-probe"]) for _ in range(runs)]
    except RuntimeError as e:
        print(f"start-up not measured: {e}", file=sys.stderr)
        return None
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the LocaLLama Router desktop bundle.")
    p.add_argument("--icons-only", action="store_true", help="render the icon set and stop")
    p.add_argument("--no-clean", action="store_true", help="reuse PyInstaller's cache")
    p.add_argument("--runs", type=int, default=3, help="start-up runs to take the median of")
    args = p.parse_args(argv)

    icons = build_icons()
    print(f"icons: {ICONS.relative_to(ROOT)}/ ({len(icons)} files)")
    if args.icons_only:
        return 0
    seconds = run_pyinstaller(clean=not args.no_clean)
    root = bundle_dir()
    exe = bundle_executable(root)
    if not exe.is_file():
        print(f"the bundle has no executable at {exe}", file=sys.stderr)
        return 1
    size = tree_size(root)
    print(f"bundle: {root}")
    print(f"executable: {exe}")
    print(f"size: {size / 1e6:.1f} MB ({size} bytes, {platform.system()} {platform.machine()})")
    print(f"build time: {seconds:.1f} s")
    if args.runs > 0:
        env_platform = os.environ.get("QT_QPA_PLATFORM")
        ms = startup_ms(exe, args.runs)
        if ms is not None:
            where = f"QT_QPA_PLATFORM={env_platform}" if env_platform else "default platform"
            print(f"start-up (launch to first paint, median of {args.runs}, {where}): {ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
