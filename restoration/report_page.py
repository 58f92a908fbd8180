"""The benchmark's summary page: one self-contained HTML file a curator opens offline.

Title and what was run, the failures named, plots (PSNR by hole-ratio bin
per method with the 95 % intervals; quality against seconds per image),
the summary table with the best method of each group highlighted, the
contact sheet and per-method before/after crops. Images are PNGs inlined as
``data:`` URLs and the style sheet is inline, so the page opens with no
network and no other file.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd

from restoration.reports import BASELINE, GROUP_BY, display_table

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.facts dt{font-weight:600;color:#555}dl.facts dd{margin:0}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}th,td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:left}
th{background:#f4f4f4}tr.best td{background:#e3f4e1;font-weight:600}tr.baseline td{color:#777}
.failed{border:1px solid #e0a0a0;background:#fff4f4;padding:.5em 1em}.note{color:#666}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}
.crops{display:flex;flex-wrap:wrap;gap:1em}.crop{border:1px solid #ddd;padding:.4em}.crop h3{font-size:1em;margin:.2em 0}
.crop .panels{display:flex;gap:.3em}.crop figure{margin:0;text-align:center}.crop img{width:128px;height:128px;image-rendering:pixelated}
"""


def png_data_url(png: bytes) -> str:
    """A PNG as a ``data:`` URL, for an ``<img>`` that needs no other file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _panel_per_damage(rows: pd.DataFrame, width: float, height: float):
    """A matplotlib figure (off-screen) with one ``width`` x ``height`` panel per damage kind of ``rows``, side by side,
    and ``[(axes, kind, that kind's rows)]``; None when ``rows`` is empty."""
    kinds = sorted(rows["damage"].unique())
    if not kinds:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(kinds), figsize=(width * len(kinds), height), squeeze=False)
    return fig, [(ax, kind, rows[rows["damage"] == kind]) for ax, kind in zip(axes[0], kinds)]


def _figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def score_column(group: pd.DataFrame) -> str:
    """The figure a group is judged by: PSNR in the hole where there is one (not noise, whose "hole" is the whole image), else on the whole image."""
    holed = group["hole_psnr"].notna() & (group["ratio_bin"] != "whole image")
    return "hole_psnr" if holed.any() else "psnr"


def best_rows(summary: pd.DataFrame) -> set[int]:
    """Index labels of the best method of each group (method x damage x bin x modality): the highest mean score, the baseline excluded."""
    best = set()
    for _, group in summary[summary["method"] != BASELINE].groupby(["damage", "ratio_bin", "modality"], dropna=False):
        scores = group[score_column(group)]
        if scores.notna().any():
            best.add(scores.idxmax())
    return best


def psnr_by_bin_png(summary: pd.DataFrame) -> bytes | None:
    """Hole PSNR by hole-ratio bin, one line per method with its 95 % interval, one panel per damage kind with holes; None when none has."""
    panels = _panel_per_damage(summary[summary["hole_psnr"].notna() & (summary["ratio_bin"] != "whole image")], 5.5, 3.8)
    if panels is None:
        return None
    fig, axes = panels
    for ax, kind, part in axes:
        pooled = part.groupby(["method", "ratio_bin"], as_index=False).agg(
            hole_psnr=("hole_psnr", "mean"), low=("hole_psnr_ci_low", "mean"), high=("hole_psnr_ci_high", "mean")
        )  # modalities pooled for the picture; the table keeps them apart
        bins = sorted(pooled["ratio_bin"].unique(), key=lambda b: float(b.split("-")[0]) if b[0].isdigit() else 1e9)
        x = {b: k for k, b in enumerate(bins)}
        for method, rows in pooled.groupby("method"):
            rows = rows.sort_values("ratio_bin", key=lambda s: s.map(x))
            xs = rows["ratio_bin"].map(x).to_numpy(float)
            y = rows["hole_psnr"].to_numpy(float)
            err = np.vstack([y - rows["low"].to_numpy(float), rows["high"].to_numpy(float) - y])
            ax.errorbar(xs, y, yerr=np.clip(np.nan_to_num(err), 0, None), marker="o", capsize=3, label=method, linestyle="--" if method == BASELINE else "-")
        ax.set_xticks(range(len(bins)), bins)
        ax.set_xlabel("hole ratio")
        ax.set_ylabel("hole PSNR (dB)")
        ax.set_title(kind)
        ax.grid(alpha=0.3)
    axes[-1][0].legend(fontsize=7, loc="best")
    return _figure_png(fig)


def quality_vs_time_png(summary: pd.DataFrame, seconds: dict[str, float]) -> bytes | None:
    """Mean score of each method against its seconds per image, one panel per damage kind; None without timings."""
    panels = _panel_per_damage(summary[summary["method"].isin(seconds)], 4.5, 3.6)
    if panels is None:
        return None
    fig, axes = panels
    for ax, kind, part in axes:
        column = score_column(part)
        means = part.groupby("method")[column].mean()
        for method, value in means.items():
            ax.scatter(seconds[method], value)
            ax.annotate(method, (seconds[method], value), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image (log)")
        ax.set_ylabel(("hole " if column == "hole_psnr" else "") + "PSNR (dB)")
        ax.set_title(kind)
        ax.grid(alpha=0.3)
    return _figure_png(fig)


def _to_png(unit: np.ndarray) -> bytes:
    import cv2

    pixels = np.round(np.clip(unit, 0, 1) * 255).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", pixels)
    if not ok:
        raise ValueError("cannot encode a crop as PNG")
    return data.tobytes()


def _same_size(frame: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``frame`` resized (nearest) to ``shape`` when it is not that size: a downscaled input shown beside its reference."""
    import cv2

    if frame.shape[:2] == shape:
        return frame
    return cv2.resize(np.ascontiguousarray(frame), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def crop_box(mask: np.ndarray | None, shape: tuple[int, int], size: int) -> tuple[slice, slice]:
    """A ``size`` square of ``shape`` centred where ``mask`` is densest (the centre of the image without one)."""
    import cv2

    h, w = shape
    side_y, side_x = min(size, h), min(size, w)
    if mask is not None and np.any(mask):
        density = cv2.blur((np.asarray(mask) != 0).astype(np.float32), (max(1, side_x // 2), max(1, side_y // 2)))
        cy, cx = np.unravel_index(int(np.argmax(density)), density.shape)
    else:
        cy, cx = h // 2, w // 2
    y0 = int(np.clip(cy - side_y // 2, 0, h - side_y))
    x0 = int(np.clip(cx - side_x // 2, 0, w - side_x))
    return slice(y0, y0 + side_y), slice(x0, x0 + side_x)


def before_after(reference: np.ndarray, damaged: np.ndarray, restored: np.ndarray, mask: np.ndarray | None, *, size: int = 96) -> list[tuple[str, bytes]]:
    """PNG crops of one frame: reference, damaged (with ``mask`` tinted over it), restored; all on the reference's grey levels.

    The crop is where the damage is densest; frames of another size (a
    downscaled input, an upscaler's output) are first resized to the reference.
    """
    from restoration.reports import _display, display_window, mask_overlay

    shape = reference.shape[:2]
    window = display_window(reference)
    damaged, restored = _same_size(damaged, shape), _same_size(restored, shape)
    box = crop_box(None if mask is None else _same_size(np.asarray(mask, np.uint8), shape), shape, size)
    shown_damaged = mask_overlay(damaged, _same_size(np.asarray(mask, np.uint8), shape), window=window) if mask is not None else _display(damaged, window)
    return [
        ("reference", _to_png(_display(reference, window)[box])),
        ("damaged", _to_png(shown_damaged[box])),
        ("restored", _to_png(_display(restored, window)[box])),
    ]


def summary_table_html(summary: pd.DataFrame) -> str:
    """The summary table (``mean [low, high]``) with the best method of each group highlighted and the baseline greyed."""
    shown = display_table(summary)
    best = best_rows(summary)
    columns = [*GROUP_BY, "n", "psnr", "ssim", "hole_psnr", "hole_ssim"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for label, row in shown.iterrows():
        cls = "best" if label in best else "baseline" if row["method"] == BASELINE else ""
        cells = "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in columns)
        rows.append(f"<tr class='{cls}'>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def summary_page(
    summary: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    title: str = "Restoration summary",
    facts: dict[str, str] | None = None,
    seconds: dict[str, float] | None = None,
    contact_sheet: bytes | None = None,
    crops: Sequence[tuple[str, Sequence[tuple[str, bytes]]]] = (),
    notes: str = "",
) -> str:
    """The summary page as one HTML document.

    Parameters
    ----------
    summary, failures
        :func:`restoration.reports.summarise` and :func:`restoration.reports.failure_table`.
    facts
        What was run (input, methods, damage kinds, seed ...), shown first.
    seconds
        Mean seconds per image of each method (the quality-against-time plot).
    contact_sheet
        The contact sheet PNG.
    crops
        ``(title, [(label, PNG)])``: before/after crops of one file per damage kind and method.
    notes
        Text under the table (how the figures were computed).
    """
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style><body>"]
    parts.append(f"<h1>{html.escape(title)}</h1>")
    if facts:
        parts.append("<dl class='facts'>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items()) + "</dl>")
    if len(failures):
        rows = "".join(
            f"<tr><td>{html.escape(str(r.damage))}</td><td>{html.escape(str(r.method))}</td><td>{html.escape(str(r.path))}</td><td>{html.escape(str(r.error))}</td></tr>"
            for r in failures.itertuples()
        )
        parts.append(
            f"<div class='failed'><h2>Failed: {len(failures)}</h2><p>Not in the scores below.</p>"
            f"<table><thead><tr><th>damage</th><th>method</th><th>file</th><th>reason</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    else:
        parts.append("<p class='note'>No file failed.</p>")
    plots = [(psnr_by_bin_png(summary), "Hole PSNR by hole-ratio bin (mean and 95 % bootstrap interval; modalities pooled)")]
    plots.append((quality_vs_time_png(summary, seconds or {}), "Quality against time: mean score and mean seconds per image of each method"))
    shown = [(png, caption) for png, caption in plots if png]
    if shown:
        parts.append("<h2>Plots</h2>")
        parts += [
            f"<figure><img alt='{html.escape(caption)}' src='{png_data_url(png)}'><figcaption>{html.escape(caption)}</figcaption></figure>"
            for png, caption in shown
        ]
    parts.append(
        "<h2>Scores</h2><p class='note'>Highlighted: the best method of each group (by hole PSNR where there are holes, else PSNR). Greyed: the damaged input.</p>"
    )
    parts.append(summary_table_html(summary))
    if notes:
        parts.append(f"<p class='note'>{html.escape(notes)}</p>")
    if crops:
        parts.append("<h2>Before and after</h2><div class='crops'>")
        for crop_title, panels in crops:
            figures = "".join(
                f"<figure><img alt='{html.escape(label)}' src='{png_data_url(png)}'><figcaption>{html.escape(label)}</figcaption></figure>"
                for label, png in panels
            )
            parts.append(f"<div class='crop'><h3>{html.escape(crop_title)}</h3><div class='panels'>{figures}</div></div>")
        parts.append("</div>")
    if contact_sheet:
        parts.append(f"<h2>Contact sheet</h2><figure><img alt='contact sheet' src='{png_data_url(contact_sheet)}'></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)
