"""Report tables and figures from per-image metric rows.

Summaries group by method x damage kind x hole-ratio bin x modality and give
the mean with a seeded 95 % percentile-bootstrap interval. Infinite PSNR (a
perfect restoration) is counted as :data:`PSNR_CAP` dB so that means stay
finite.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import bootstrap

from restoration.io import atomic_write
from restoration.metrics import VISIBLE_CHANGE

METRICS = ("psnr", "ssim", "hole_psnr", "hole_ssim")
GROUP_BY = ("method", "damage", "ratio_bin", "modality")
PSNR_CAP = 100.0
BASELINE = "damaged"


def per_image_table(rows: list[dict]) -> pd.DataFrame:
    """Per-image rows as a table in a fixed order (damage, method, path, frame).

    Rows arrive in whatever order parallel tasks finish; sorting makes the
    same seed give byte-identical tables. ``status`` is ``ok`` for a scored
    frame and ``failed`` for a file that could not be damaged, restored or
    scored (``error`` says why; its scores are empty); whether a score was
    reused (``run``) is not part of the table.
    """
    frame = pd.DataFrame(rows)
    frame = frame.drop(columns=[c for c in ("run",) if c in frame.columns])
    if len(frame):
        frame["status"] = frame["status"].fillna("ok") if "status" in frame.columns else "ok"
        frame["error"] = frame["error"].fillna("") if "error" in frame.columns else ""
    keys = [k for k in ("damage", "method", "path", "index") if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True) if keys else frame


def mean_ci(values, *, seed: int = 0, n_resamples: int = 2000, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval of the finite ``values``.

    One value gives a zero-width interval; none gives NaNs.
    """
    x = np.asarray(values, np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if x.size == 1 or np.all(x == x[0]):
        return mean, mean, mean
    res = bootstrap(
        (x,),
        np.mean,
        confidence_level=level,
        n_resamples=n_resamples,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return mean, float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarise(per_image: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Mean and 95 % interval of each metric per method x damage x ratio bin x modality.

    The ``damaged`` baseline rows are summarised like any method; failed
    rows (:func:`failure_table`) are not scores and are left out.
    """
    frame = per_image[per_image["status"] != "failed"].copy() if "status" in per_image.columns else per_image.copy()
    for col in ("psnr", "hole_psnr"):
        frame[col] = frame[col].clip(upper=PSNR_CAP)
    rows = []
    for key, group in frame.groupby(list(GROUP_BY), sort=True, dropna=False):
        row = dict(zip(GROUP_BY, key))
        row["n"] = len(group)
        for metric in METRICS:
            mean, low, high = mean_ci(group[metric].to_numpy(), seed=seed)
            row[metric] = mean
            row[f"{metric}_ci_low"] = low
            row[f"{metric}_ci_high"] = high
        rows.append(row)
    columns = [*GROUP_BY, "n", *(f"{m}{s}" for m in METRICS for s in ("", "_ci_low", "_ci_high"))]
    summary = pd.DataFrame(rows, columns=columns)
    # Baseline first within each group, then methods by name.
    summary["_order"] = (summary["method"] != BASELINE).astype(int)
    summary = summary.sort_values(["damage", "ratio_bin", "modality", "_order", "method"], kind="stable")
    return summary.drop(columns="_order").reset_index(drop=True)


#: How the summary's figures were computed (under the table in summary.md and summary.html).
METHOD_NOTE = (
    "Mean with 95 % bootstrap interval per method x damage x hole-ratio bin x modality; "
    f"`{BASELINE}` is the damaged input, scored as the baseline. PSNR in dB at the "
    f"image's native data range (infinite PSNR counted as {PSNR_CAP:g} dB). SSIM as Wang et al. (IEEE TIP 2004): "
    "11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03, mean over the valid region; in-hole SSIM averages its map over the hole. "
    "Upscalers are scored against the reference cropped to a multiple of the scale."
)


def digits_of(column: str) -> int:
    """Decimals a person is shown for a figure of ``column``: 2 for dB (PSNR), 3 otherwise (SSIM, F1, seconds)."""
    return 2 if "psnr" in column else 3


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Summary with ``mean [low, high]`` cells (``mean`` alone for a group of one), for Markdown and HTML."""
    shown = summary[[*GROUP_BY, "n"]].copy()
    for metric in METRICS:
        d = digits_of(metric)
        shown[metric] = [
            "-" if not np.isfinite(m) else f"{m:.{d}f}" if n < 2 else f"{m:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"
            for m, lo, hi, n in zip(summary[metric], summary[f"{metric}_ci_low"], summary[f"{metric}_ci_high"], summary["n"])
        ]
    return shown


def failure_table(per_image: pd.DataFrame) -> pd.DataFrame:
    """The failed rows of a per-image table: damage, method, file and reason."""
    columns = ["damage", "method", "path", "error"]
    if "status" not in per_image.columns:
        return pd.DataFrame(columns=columns)
    failed = per_image[per_image["status"] == "failed"]
    return failed.reindex(columns=columns).fillna("").reset_index(drop=True)


def failures_markdown(failures: pd.DataFrame) -> str:
    """A section naming every failed file and why ("" when none failed)."""
    if not len(failures):
        return ""
    shown = failures.assign(error=failures["error"].str.replace("|", "/", regex=False))
    return "\n".join([f"## Failed: {len(failures)} (not in the table above)", "", shown.to_markdown(index=False), ""])


def summary_markdown(summary: pd.DataFrame, *, title: str = "Restoration summary", failures: pd.DataFrame | None = None) -> str:
    """Markdown report: the summary table with 95 % intervals, and the failures (:func:`failure_table`) named."""
    lines = [
        f"# {title}",
        "",
        METHOD_NOTE,
        "",
        display_table(summary).to_markdown(index=False),
        "",
    ]
    if failures is not None and len(failures):
        lines += ["", failures_markdown(failures)]
    return "\n".join(lines)


def write_tables(per_image: pd.DataFrame, summary: pd.DataFrame, out_dir: os.PathLike | str) -> dict[str, Path]:
    """Write per-image and summary tables (CSV, Parquet, Markdown, HTML) atomically."""
    from restoration.report_page import summary_page  # the page module imports this one

    out_dir = Path(out_dir)
    failures = failure_table(per_image)
    markdown = summary_markdown(summary, failures=failures)
    writers = {
        "per_image_csv": ("per_image.csv", lambda t: per_image.to_csv(t, index=False)),
        "per_image_parquet": ("per_image.parquet", lambda t: per_image.to_parquet(t, index=False)),
        "summary_csv": ("summary.csv", lambda t: summary.to_csv(t, index=False)),
        "summary_parquet": ("summary.parquet", lambda t: summary.to_parquet(t, index=False)),
        "summary_md": ("summary.md", lambda t: t.write_text(markdown, encoding="utf-8")),
        "summary_html": ("summary.html", lambda t: t.write_text(summary_page(summary, failures, notes=METHOD_NOTE), encoding="utf-8")),
    }
    return {key: atomic_write(out_dir / name, write) for key, (name, write) in writers.items()}


def detection_summary(rows: list[dict]) -> pd.DataFrame:
    """Per damage kind and detector: precision, recall, F1 and IoU pooled over every frame, and the mean fraction flagged.

    Pooled: the counts of all frames are added before dividing, so a frame
    with little damage weighs as little as it holds. ``clean`` rows (no
    damage) give the fraction of clean pixels flagged.
    """
    frame = pd.DataFrame(rows)
    out = []
    for (damage, detector), group in frame.groupby(["damage", "detector"], sort=True):
        correct, found, predicted, true = (int(group[c].sum()) for c in ("correct", "found", "predicted", "true"))
        precision = correct / predicted if predicted and true else float("nan")  # on clean images only `flagged` says anything
        recall = found / true if true else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if predicted and true and precision + recall else float("nan")
        tp = 0.5 * (correct + found)
        union = tp + (predicted - correct) + (true - found)
        out.append(
            {"damage": damage, "detector": detector, "n": len(group), "precision": precision, "recall": recall, "f1": f1,
             "iou": tp / union if true and union else float("nan"), "flagged": float(group["flagged"].mean())}
        )  # fmt: skip
    return pd.DataFrame(out, columns=["damage", "detector", "n", "precision", "recall", "f1", "iou", "flagged"])


def detection_markdown(summary: pd.DataFrame) -> str:
    """The detection table as Markdown: scores per damage kind and detector, and clean pixels flagged."""
    shown = summary.copy()
    for column in ("precision", "recall", "f1", "iou"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    shown["flagged"] = shown["flagged"].map(lambda v: f"{100 * v:.2f} %")
    return "\n".join(
        [
            "## Damage detection",
            "",
            "Pixel precision, recall, F1 and IoU against the simulated damage (a pixel within 1 pixel of a true one counts; "
            f"damage that changed no pixel by more than {VISIBLE_CHANGE:.0%} of its range counts neither way), "
            "pooled over the frames; `clean` rows are the undamaged archive: the share of its pixels flagged.",
            "",
            shown.to_markdown(index=False),
            "",
        ]
    )


def display_window(frame: np.ndarray) -> tuple[float, float]:
    """The grey levels a frame is viewed between: its 0.5th and 99.5th percentiles (of its finite values)."""
    f = np.asarray(frame, np.float64)
    f = f[..., :3] if f.ndim == 3 else f
    f = f[np.isfinite(f)]
    if not f.size:
        return 0.0, 1.0
    low, high = np.percentile(f, [0.5, 99.5])
    return float(low), float(high)


def _display(frame: np.ndarray, window: tuple[float, float] | None = None) -> np.ndarray:
    """Frame scaled to [0, 1] for viewing only: between ``window`` (e.g. its reference's :func:`display_window`), else its own."""
    f = np.nan_to_num(frame.astype(np.float64))
    if f.ndim == 3:
        f = f[..., :3]
    low, high = display_window(frame) if window is None else window
    return np.clip((f - low) / (high - low if high > low else 1.0), 0, 1)


def mask_overlay(
    frame: np.ndarray, mask: np.ndarray, *, window: tuple[float, float] | None = None, colour=(1.0, 0.15, 0.1), opacity: float = 0.55
) -> np.ndarray:
    """The frame for viewing (:func:`_display` with ``window``) as RGB with ``mask`` tinted in ``colour``: where the damage was."""
    shown = _display(frame, window)
    rgb = np.repeat(shown[..., None], 3, axis=2) if shown.ndim == 2 else shown
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    hole = np.asarray(mask) != 0
    rgb = rgb.copy()
    rgb[hole] = (1 - opacity) * rgb[hole] + opacity * np.asarray(colour)
    return rgb


def contact_sheet(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], path: os.PathLike | str) -> Path:
    """A grid PNG: one row per item, one labelled panel per image.

    Parameters
    ----------
    rows : list of (row title, [(panel label, image[, window])])
        E.g. ``("camera.png / holes", [("reference", c, w), ("damaged", d, w), ("telea", r, w)])``:
        each panel is viewed between its ``window`` of grey levels (the
        reference's, so that a hole written as -32768 in a CT slice does
        not turn the rest of the slice white), or its own percentiles.
    path : path-like
        PNG to write (atomically).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_cols = max(len(panels) for _, panels in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(2.0 * n_cols, 2.2 * len(rows)), squeeze=False)
    for r, (title, panels) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(panels):
                label, image, *window = panels[c]
                shown = _display(image, window[0] if window else None)
                ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(label if c else f"{title}\n{label}", fontsize=7)
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=80, format="png"))
    plt.close(fig)
    return out
