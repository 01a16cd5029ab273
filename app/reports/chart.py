"""The tickets-per-week chart, drawn with matplotlib into PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

from app.domain.customers import Ticket
from app.reports.document import PRIORITIES, tickets_per_week

COLOURS = {"urgent": "#d62728", "high": "#ff7f0e", "normal": "#1f77b4", "low": "#bbbbbb"}


def tickets_per_week_png(customer_name: str, tickets: Sequence[Ticket]) -> bytes:
    # Imported when a chart is drawn: matplotlib costs a process some 40 MB, and only a worker draws.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # no display: the worker draws into memory
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    weeks = tickets_per_week(tickets)
    figure, axes = plt.subplots(figsize=(9, 4), dpi=100)
    try:
        labels = [monday.isoformat() for monday in weeks]
        bottoms = [0] * len(weeks)
        for priority in reversed(PRIORITIES):
            heights = [counts.get(priority, 0) for counts in weeks.values()]
            axes.bar(labels, heights, bottom=bottoms, label=priority, color=COLOURS.get(priority))
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        axes.set_title(f"Tickets opened per week: {customer_name}")
        axes.set_ylabel("tickets")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        step = max(1, len(labels) // 12)
        axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right", fontsize=8)
        if not labels:
            axes.text(0.5, 0.5, "no tickets", ha="center", va="center", transform=axes.transAxes)
        axes.legend(title="priority", fontsize=8)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
