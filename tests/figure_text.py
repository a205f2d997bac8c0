"""Overlapping text on a rendered matplotlib figure, measured with matplotlib's own ``get_window_extent``.

Every visible, non-empty text of the figure counts: titles, axis labels, tick labels, point labels, annotations,
the figure's captions, and each legend as one box. Two boxes overlap when their intersection has positive area
(touching edges do not count).
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import Bbox


def drawn_tick_labels(fig: Figure) -> tuple[list[Text], set[int]]:
    """The tick labels drawn (ticks inside their axis's view, label shown), and the ids of every tick label."""
    drawn, every = [], set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                labels = (tick.label1, tick.label2)
                every |= {id(label) for label in labels}
                span = (high - low) * 1e-9
                if ax.get_visible() and low - span <= tick.get_loc() <= high + span:
                    drawn += [label for label in labels if label.get_visible() and label.get_text().strip()]
    return drawn, every


def text_boxes(fig: Figure) -> list[tuple[str, Bbox]]:
    """(text, box in display pixels) of every visible text on ``fig`` as drawn; a legend is one box."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    legends = [artist for artist in fig.findobj(Legend) if artist.get_visible()]
    skip = {id(t) for legend in legends for t in legend.findobj(Text)}
    ticks, tick_ids = drawn_tick_labels(fig)
    boxes = [(f"legend ({', '.join(t.get_text() for t in legend.get_texts())})", legend.get_window_extent(renderer))
             for legend in legends]
    boxes += [(f"tick {t.get_text()}", t.get_window_extent(renderer)) for t in ticks]
    for text in fig.findobj(Text):
        if id(text) in skip or id(text) in tick_ids or not text.get_visible() or not text.get_text().strip():
            continue
        boxes.append((text.get_text(), text.get_window_extent(renderer)))
    return boxes


def overlaps(fig: Figure) -> list[str]:
    """Every pair of text boxes on ``fig`` that overlap, as readable lines (empty when none do)."""
    boxes = text_boxes(fig)
    found = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if width > 0.5 and height > 0.5:
                found.append(f"{a!r} x {b!r} ({width:.0f} x {height:.0f} px)")
    return found
