"""Two small static SVG plots for the report folder (core has no matplotlib).

``layers.svg``: per activation tensor, the float range seen against the INT8 range, with the
saturation rate and SQNR as text. ``weights.svg``: one histogram per quantized weight. The GUI
draws its own interactive plots from the JSON arrays; these are for reading a report anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from core.model.report import ValidationReport

WIDTH = 640
ROW = 34


def layer_chart_svg(report: ValidationReport) -> str:
    rows = report.layers
    height = 40 + ROW * max(1, len(rows))
    parts = [
        _open(height),
        _text(10, 20, f"{report.model_name}: activation ranges (float vs INT8)", 13),
    ]
    x0, x1 = 200, WIDTH - 20
    for i, layer in enumerate(rows):
        y = 40 + i * ROW
        lo = min(layer.float_range[0], layer.quant_range[0])
        hi = max(layer.float_range[1], layer.quant_range[1])
        span = hi - lo or 1.0

        def px(v: float, lo: float = lo, span: float = span) -> float:
            return x0 + (x1 - x0) * (v - lo) / span

        q0, q1 = px(layer.quant_range[0]), px(layer.quant_range[1])
        f0, f1 = px(layer.float_range[0]), px(layer.float_range[1])
        bad = layer.saturation > report.config.saturation_threshold
        parts.append(_text(10, y + 12, layer.tensor[:26], 11))
        sq = "n/a" if layer.sqnr_db is None else f"{layer.sqnr_db:.1f} dB"
        parts.append(_text(10, y + 25, f"sat {layer.saturation:.2%}  SQNR {sq}", 9))
        parts.append(
            f'<rect x="{q0:.1f}" y="{y + 2}" width="{max(1.0, q1 - q0):.1f}" height="10" '
            'fill="#9ecae1"/>'
        )
        colour = "#d62728" if bad else "#31a354"
        parts.append(
            f'<rect x="{f0:.1f}" y="{y + 14}" width="{max(1.0, f1 - f0):.1f}" height="10" '
            f'fill="{colour}"/>'
        )
    parts.append(_text(x0, height - 4, "blue: INT8 range   green/red: float range seen", 9))
    parts.append("</svg>\n")
    return "\n".join(parts)


def weight_histograms_svg(report: ValidationReport) -> str:
    cols, cell_w, cell_h = 3, WIDTH // 3, 130
    n = max(1, len(report.weights))
    height = 30 + cell_h * ((n + cols - 1) // cols)
    parts = [_open(height), _text(10, 20, f"{report.model_name}: weight distributions", 13)]
    for i, w in enumerate(report.weights):
        cx = (i % cols) * cell_w + 10
        cy = 30 + (i // cols) * cell_h
        counts = w.histogram.get("counts", [])
        top = max(counts, default=1.0) or 1.0
        bar_w = (cell_w - 20) / max(1, len(counts))
        for k, c in enumerate(counts):
            h = 80 * c / top
            parts.append(
                f'<rect x="{cx + k * bar_w:.1f}" y="{cy + 95 - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="#6baed6"/>'
            )
        sq = "n/a" if w.sqnr_db is None else f"{w.sqnr_db:.1f} dB"
        parts.append(_text(cx, cy + 110, f"{w.name[:22]} ({w.channels} ch)", 10))
        parts.append(_text(cx, cy + 122, f"|w|max {w.absmax:.3g}  SQNR {sq}", 9))
    parts.append("</svg>\n")
    return "\n".join(parts)


def _open(height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">'
    )


def _text(x: float, y: float, s: str, size: int) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}">{escape(s)}</text>'
