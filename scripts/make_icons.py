"""Draw the PNG app icons (192 and 512 px) from the same shapes as static/img/icon.svg.

Run: .venv/bin/python scripts/make_icons.py  (writes static/img/icon-192.png and icon-512.png)
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

RED = (0xB3, 0x26, 0x1E, 255)
WHITE = (255, 255, 255, 255)
# The "U" of icon.svg, in its 64×64 view box.
SHAPE = [(16, 44), (16, 20), (24, 20), (24, 36), (40, 36), (40, 20), (48, 20), (48, 44)]
OUT = Path(__file__).resolve().parents[1] / "static" / "img"


def draw(size: int) -> Image.Image:
    scale = size / 64
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, size - 1, size - 1), radius=round(12 * scale), fill=RED)
    pen.polygon([(x * scale, y * scale) for x, y in SHAPE], fill=WHITE)
    return image


if __name__ == "__main__":
    for size in (192, 512):
        draw(size).save(OUT / f"icon-{size}.png", optimize=True)
        print(OUT / f"icon-{size}.png")
