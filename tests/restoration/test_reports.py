import numpy as np
import pandas as pd
import pytest

from restoration.pipeline import ratio_bin
from restoration.reports import mean_ci, summarise, write_tables


def test_ratio_bins():
    assert ratio_bin(0.0) == "0-10 %"
    assert ratio_bin(0.25) == "20-30 %"
    assert ratio_bin(0.5999) == "50-60 %"
    assert ratio_bin(1.0) == "whole image"
    assert ratio_bin(float("nan")) == "n/a"


def test_bootstrap_interval_is_seeded_and_contains_the_mean():
    values = np.random.default_rng(0).normal(30, 2, 40)
    mean, low, high = mean_ci(values, seed=1)
    assert low < mean < high
    assert mean == pytest.approx(values.mean())
    assert (mean, low, high) == mean_ci(values, seed=1)
    assert mean_ci([5.0]) == (5.0, 5.0, 5.0)
    assert all(np.isnan(mean_ci([])))


def _rows():
    rng = np.random.default_rng(0)
    rows = []
    for method, offset in [("damaged", 0.0), ("telea", 10.0)]:
        for i in range(6):
            rows.append(
                {
                    "method": method,
                    "damage": "holes",
                    "ratio_bin": "10-20 %",
                    "modality": "scan-gray",
                    "psnr": 20 + offset + rng.normal(),
                    "ssim": 0.5,
                    "hole_psnr": 8 + offset,
                    "hole_ssim": 0.2,
                    "path": f"{i}.png",
                    "index": 0,
                }
            )
    rows[0]["psnr"] = float("inf")
    return pd.DataFrame(rows)


def test_summary_groups_and_orders_baseline_first(tmp_path):
    summary = summarise(_rows())
    assert list(summary["method"]) == ["damaged", "telea"]
    assert list(summary["n"]) == [6, 6]
    assert summary.loc[0, "psnr"] < 100 / 6 + 25  # infinite PSNR capped, not propagated
    assert summary.loc[1, "hole_psnr"] == pytest.approx(18)
    paths = write_tables(_rows(), summary, tmp_path)
    assert "telea" in paths["summary_md"].read_text()
    assert pd.read_parquet(paths["per_image_parquet"]).shape[0] == 12
    assert "<table" in paths["summary_html"].read_text()
