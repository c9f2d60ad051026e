"""Scanned page images: a JPEG of the page with each story's block where its image-map
hotspot says, as e-paper sites serve them beside the page's <map>.

Pillow comes with reportlab (the replica's PDFs), so the replica needs nothing more.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw

WIDTH = 480  # the replica's hotspots lie within x 20…460


def zone_coords(coords: str) -> list[int]:
    return [int(n) for n in coords.split(",")]


@lru_cache(maxsize=256)
def page_image(zones: tuple[tuple[int, ...], ...]) -> bytes:
    """A grey page with a darker block per zone (each a polygon of x,y pairs)."""
    height = max([600, *(max(z[1::2]) + 40 for z in zones)])
    image = Image.new("L", (WIDTH, height), 248)
    draw = ImageDraw.Draw(image)
    for zone in zones:
        points = list(zip(zone[0::2], zone[1::2]))
        draw.polygon(points, fill=224, outline=96)
        x0, y0 = min(x for x, _ in points) + 12, min(y for _, y in points) + 14
        for line in range(0, max(y for _, y in points) - y0 - 10, 14):  # lines of "text"
            draw.line((x0, y0 + line, x0 + 380, y0 + line), fill=150, width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60)
    return out.getvalue()
