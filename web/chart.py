"""The hits-over-time chart of a search as SVG geometry (the template draws it): bars per
month, no JavaScript and no chart library."""

from __future__ import annotations

WIDTH, HEIGHT, PAD, LABEL = 640, 160, 4, 18
BAR = 48  # the widest bar: a search over one month is one bar, not a block


def hits_chart(series: list[dict]) -> dict | None:
    """{"width", "height", "bars": [{"x", "y", "width", "height", "month", "hits"}],
    "max"} for a search's `series` ([{"month": "YYYY-MM", "hits": n}]), None when empty."""
    if not series:
        return None
    top = max(point["hits"] for point in series) or 1
    slot = (WIDTH - 2 * PAD) / len(series)
    usable = HEIGHT - LABEL - PAD
    bars = []
    width = min(slot * 0.8, BAR)
    for i, point in enumerate(series):
        height = round(usable * point["hits"] / top, 1)
        bars.append(
            {
                "x": round(PAD + i * slot + (slot - width) / 2, 1),
                "y": round(PAD + usable - height, 1),
                "width": round(width, 1),
                "height": height,
                "month": point["month"],
                "hits": point["hits"],
                "label_x": round(PAD + i * slot + slot / 2, 1),
            }
        )
    return {"width": WIDTH, "height": HEIGHT, "label_y": HEIGHT - 4, "bars": bars, "max": top}
