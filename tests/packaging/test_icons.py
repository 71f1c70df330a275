"""The icon set from the one SVG: PNG sizes, and the ICO and ICNS containers written by hand."""

from __future__ import annotations

import struct

import pytest


def parse_ico(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(width, height, bpp, image bytes) of each ICONDIRENTRY, checking the header."""
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind) == (0, 1)
    out = []
    for i in range(count):
        w, h, colours, res, planes, bpp, size, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * i
        )
        assert (colours, res, planes) == (0, 0, 1)
        assert offset + size <= len(data)
        out.append((w or 256, h or 256, bpp, data[offset : offset + size]))
    return out


def parse_icns(data: bytes) -> dict[bytes, bytes]:
    assert data[:4] == b"icns"
    (total,) = struct.unpack_from(">I", data, 4)
    assert total == len(data)
    entries: dict[bytes, bytes] = {}
    pos = 8
    while pos < total:
        kind = data[pos : pos + 4]
        (length,) = struct.unpack_from(">I", data, pos + 4)
        assert length > 8 and pos + length <= total
        entries[kind] = data[pos + 8 : pos + length]
        pos += length
    assert pos == total
    return entries


@pytest.fixture
def pngs(qapp, build_script):
    # qapp first: a QApplication must exist before the renderer would make a QGuiApplication.
    return build_script.render_pngs(build_script.SVG, (16, 32, 128, 256, 512, 1024))


def test_rendered_pngs_have_the_asked_sizes_and_are_not_blank(pngs, build_script):
    from PySide6.QtGui import QImage

    for size, png in pngs.items():
        assert build_script.png_size(png) == (size, size)
        image = QImage.fromData(png, "PNG")
        assert image.width() == size
        assert image.hasAlphaChannel()
        alphas = {image.pixelColor(x, y).alpha() for x in range(size) for y in range(0, size, 7)}
        assert 0 in alphas or len(alphas) > 1  # a real drawing, not one flat colour
        assert max(alphas) > 0


def test_ico_holds_each_png_with_a_valid_directory(pngs, build_script):
    chosen = {s: pngs[s] for s in (16, 32, 128, 256)}
    data = build_script.write_ico(chosen)
    entries = parse_ico(data)
    assert [(w, h, bpp) for w, h, bpp, _ in entries] == [
        (16, 16, 32),
        (32, 32, 32),
        (128, 128, 32),
        (256, 256, 32),
    ]
    for w, _h, _bpp, image in entries:
        assert image == chosen[w]  # the PNG stored byte for byte
    assert data[6 + 16 * 3] == 0  # 256 px is written as 0 in the directory


def test_ico_refuses_images_it_cannot_hold(pngs, build_script):
    with pytest.raises(ValueError):
        build_script.write_ico({512: pngs[512]})  # over 256 px
    with pytest.raises(ValueError):
        build_script.write_ico({32: pngs[16]})  # size does not match the image
    with pytest.raises(ValueError):
        build_script.write_ico({})
    with pytest.raises(ValueError):
        build_script.write_ico({16: b"GIF89a not a png"})


def test_icns_has_png_entries_ic07_to_ic10_at_their_sizes(pngs, build_script):
    data = build_script.write_icns(
        {kind: pngs[size] for kind, size in build_script.ICNS_TYPES.items()}
    )
    entries = parse_icns(data)
    assert set(entries) == {b"ic07", b"ic08", b"ic09", b"ic10"}
    sizes = {kind: build_script.png_size(png)[0] for kind, png in entries.items()}
    assert sizes == {b"ic07": 128, b"ic08": 256, b"ic09": 512, b"ic10": 1024}


def test_icns_refuses_bad_entries(pngs, build_script):
    with pytest.raises(ValueError):
        build_script.write_icns({b"ic7": pngs[128]})
    with pytest.raises(ValueError):
        build_script.write_icns({b"ic07": b"not a png"})


def test_build_icons_writes_the_whole_set(qapp, build_script, tmp_path):
    written = build_script.build_icons(out_dir=tmp_path)
    for size in build_script.PNG_SIZES:
        png = (tmp_path / f"locallama-router-{size}.png").read_bytes()
        assert build_script.png_size(png) == (size, size)
    ico = parse_ico(written["ico"].read_bytes())
    assert sorted(w for w, *_ in ico) == sorted(build_script.ICO_SIZES)
    assert set(parse_icns(written["icns"].read_bytes())) == set(build_script.ICNS_TYPES)
    assert written["svg"].read_bytes() == build_script.SVG.read_bytes()
