"""Server-side SVG pictures for the admin: training curves and the confusion matrix.

Plain strings built here, every label passed through `escape`, so a picture can be shown inline
with no JavaScript and no external files.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT, PAD = 480, 240, 40
LEGEND_WIDTH = 130  # the legend sits right of the plot, never over a line


@dataclass(frozen=True)
class Curve:
    """How one series is drawn: colour, dash pattern and marker, so lines that overlap stay apart."""

    label: str
    colour: str
    dash: str = ""
    marker: str = "circle"
    width: float = 2.0


# Drawn in this order: validation macro-F1 last, on top, dashed with square markers, so it cannot
# hide behind validation accuracy when the two are close (they usually are).
CURVES = {
    "train_loss": Curve("training loss", "#1f77b4"),
    "val_loss": Curve("validation loss", "#ff7f0e", dash="6 3"),
    "val_accuracy": Curve("validation accuracy", "#9467bd", width=1.5),
    "val_macro_f1": Curve("validation macro-F1", "#2ca02c", dash="4 2", marker="square", width=2.5),
}


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'style="font:11px sans-serif;background:#fff">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _marker(curve: Curve, x: str, y: str, tip: str) -> str:
    if curve.marker == "square":
        return (
            f'<rect x="{float(x) - 3:.1f}" y="{float(y) - 3:.1f}" width="6" height="6" fill="{curve.colour}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    return f'<circle cx="{x}" cy="{y}" r="2.5" fill="{curve.colour}"><title>{escape(tip)}</title></circle>'


def training_curves_svg(history: list[dict], title: str = "Training curves") -> str:
    """Loss and validation macro-F1/accuracy (0-1) per epoch on one scale, with a legend beside the plot."""
    width = WIDTH + LEGEND_WIDTH
    if not history:
        return _svg(width, 40, f'<text x="8" y="24">{escape("No training history.")}</text>', title)
    epochs = [entry.get("epoch", i + 1) for i, entry in enumerate(history)]
    losses = [v for e in history for k in ("train_loss", "val_loss") if isinstance(v := e.get(k), int | float)]
    top = max([1.0, *losses])
    span_x = max(1, len(epochs) - 1)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def point(i: int, value: float) -> tuple[str, str]:
        return f"{PAD + inner_w * i / span_x:.1f}", f"{PAD + inner_h * (1 - value / top):.1f}"

    parts = [
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end">{top:.2f}</text>',
        f'<text x="{PAD - 4}" y="{HEIGHT - PAD + 4}" text-anchor="end">0</text>',
        f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle">epoch (1-{epochs[-1]})</text>',
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
    ]
    legend_x, legend_y = WIDTH - PAD + 16, PAD
    for key, curve in CURVES.items():
        values = [(i, entry[key]) for i, entry in enumerate(history) if isinstance(entry.get(key), int | float)]
        if not values:
            continue
        dash = f' stroke-dasharray="{curve.dash}"' if curve.dash else ""
        stroke = f'stroke="{curve.colour}" stroke-width="{curve.width:g}"{dash}'
        points = " ".join(",".join(point(i, v)) for i, v in values)
        parts.append(f'<polyline fill="none" {stroke} points="{points}" data-series="{key}"/>')
        parts.extend(_marker(curve, *point(i, v), f"{curve.label} {v:.4f}") for i, v in values)
        parts.append(f'<line x1="{legend_x}" y1="{legend_y}" x2="{legend_x + 22}" y2="{legend_y}" {stroke}/>')
        parts.append(_marker(curve, f"{legend_x + 11}", f"{legend_y}", curve.label))
        parts.append(f'<text x="{legend_x + 28}" y="{legend_y + 4}">{escape(curve.label)}</text>')
        legend_y += 16
    return _svg(width, HEIGHT, "".join(parts), title)


def confusion_matrix_svg(confusion: list[list[int]], labels: list[str], title: str = "Confusion matrix") -> str:
    """Rows true, columns predicted; darker cells hold more reviews."""
    if not confusion:
        return _svg(WIDTH, 40, f'<text x="8" y="24">{escape("No confusion matrix.")}</text>', title)
    cell, left, top = 56, 80, 56
    n = len(labels)
    biggest = max(1, max(max(row) for row in confusion))
    parts = [
        f'<text x="{left + n * cell / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
        f'<text x="{left + n * cell / 2:.0f}" y="34" text-anchor="middle">predicted</text>',
        f'<text x="12" y="{top + n * cell / 2:.0f}" transform="rotate(-90 12 {top + n * cell / 2:.0f})" '
        f'text-anchor="middle">true</text>',
    ]
    for j, label in enumerate(labels):
        parts.append(
            f'<text x="{left + j * cell + cell / 2:.0f}" y="{top - 6}" text-anchor="middle">{escape(label)}</text>'
        )
    for i, (label, row) in enumerate(zip(labels, confusion, strict=True)):
        parts.append(
            f'<text x="{left - 6}" y="{top + i * cell + cell / 2 + 4:.0f}" text-anchor="end">{escape(label)}</text>'
        )
        for j, count in enumerate(row):
            shade = int(255 - 200 * count / biggest)
            ink = "#fff" if shade < 140 else "#000"
            parts.append(
                f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" '
                f'fill="rgb({shade},{shade},255)" stroke="#fff"/>'
                f'<text x="{left + j * cell + cell / 2:.0f}" y="{top + i * cell + cell / 2 + 4:.0f}" '
                f'text-anchor="middle" fill="{ink}">{int(count)}</text>'
            )
    return _svg(left + n * cell + 10, top + n * cell + 10, "".join(parts), title)
