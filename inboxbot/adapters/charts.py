"""Small PNG charts for the KPI and annual report emails.

Matplotlib with the Agg backend (no display, no network, only the bundled DejaVu font).
Each function returns the PNG bytes, ready to be embedded inline in an email.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_WIDTH, _HEIGHT, _DPI = 6.4, 3.6, 100


@functools.cache
def _pyplot() -> ModuleType:
    """Matplotlib on the Agg backend, imported on the first chart: it takes about a second,
    which every other command (``inboxbot --help`` included) should not pay."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_BAR = "#1f5c99"
_LINE = "#b3541e"


def cases_by_service_area_chart(
    counts: Mapping[str, int], title: str = "Cases received by service area"
) -> bytes:
    """A horizontal bar chart of cases per service area, largest at the top."""
    items = sorted(counts.items(), key=lambda item: (item[1], item[0]))
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(_WIDTH, max(_HEIGHT, 0.4 * len(items) + 1.2)), dpi=_DPI)
    try:
        if items:
            names = [name for name, _ in items]
            values = [value for _, value in items]
            bars = axes.barh(names, values, color=_BAR)
            axes.bar_label(bars, padding=3)
            axes.set_xlim(0, max(values) * 1.15 + 1)
        else:
            axes.text(0.5, 0.5, "No cases received", ha="center", va="center", transform=axes.transAxes)
            axes.set_yticks([])
        axes.set_xlabel("Cases")
        from matplotlib.ticker import MaxNLocator

        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        _finish(axes, title)
        return _png(figure)
    finally:
        plt.close(figure)


def on_time_by_quarter_chart(
    labels: Sequence[str],
    information: Sequence[float | None],
    remedies: Sequence[float | None] | None = None,
    title: str = "Responses on time by quarter",
) -> bytes:
    """Bars of information requests answered on time (%) per quarter, with remedies as a line.

    A quarter with nothing due (None) shows no bar and no point.
    """
    if len(information) != len(labels) or (remedies is not None and len(remedies) != len(labels)):
        raise ValueError("each quarter needs one label and one figure per series")
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(_WIDTH, _HEIGHT), dpi=_DPI)
    try:
        positions = list(range(len(labels)))
        heights = [value if value is not None else 0.0 for value in information]
        bars = axes.bar(positions, heights, color=_BAR, label="Information requests")
        axes.bar_label(bars, labels=[_percent_label(value) for value in information], padding=2)
        if remedies is not None:
            points = [(x, value) for x, value in zip(positions, remedies, strict=True) if value is not None]
            if points:
                axes.plot(
                    [x for x, _ in points],
                    [value for _, value in points],
                    color=_LINE,
                    marker="o",
                    label="Remedies",
                )
        axes.set_xticks(positions, list(labels))
        axes.set_ylim(0, 110)
        axes.set_ylabel("% on time")
        axes.legend(loc="lower right", fontsize="small")
        _finish(axes, title)
        return _png(figure)
    finally:
        plt.close(figure)


def _percent_label(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _finish(axes: Axes, title: str) -> None:
    axes.set_title(title)
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
