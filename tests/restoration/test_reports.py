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


def test_a_group_of_one_shows_its_value_without_an_interval_and_figures_are_rounded():
    from restoration.reports import display_table

    rows = _rows()
    one = rows[rows["path"] == "1.png"].copy()
    one.loc[one["method"] == "damaged", "psnr"] = 20.0912345
    shown = display_table(summarise(one)).set_index("method")
    assert shown.loc["damaged", "psnr"] == "20.09"  # not "20.09 [20.09, 20.09]"
    assert shown.loc["telea", "ssim"] == "0.500"  # 3 decimals for SSIM
    many = display_table(summarise(rows)).set_index("method")
    assert many.loc["telea", "psnr"].count("[") == 1 and many.loc["telea", "psnr"].split(" ")[0].count(".") == 1
    assert len(many.loc["telea", "psnr"].split(" ")[0].split(".")[1]) == 2


def test_table_artifact_rows_are_rounded_for_people():
    from flows.steps import table_records

    frame = pd.DataFrame(
        {"method": ["telea"], "psnr": [69.43069651138168], "hole_ssim": [0.912345678], "seconds": [1.23456], "n": [3], "ratio": [float("inf")]}
    )
    (row,) = table_records(frame)
    assert row == {"method": "telea", "psnr": 69.43, "hole_ssim": 0.912, "seconds": 1.235, "n": 3, "ratio": None}


def test_the_contact_sheet_views_a_damaged_ct_slice_on_its_references_grey_levels(tmp_path):
    """Holes written as -32768 made a slice's own min-to-max scaling flat white; the reference's window keeps it readable."""
    import pydicom
    from pydicom.data import get_testdata_file

    from restoration.reports import _display, contact_sheet, display_window

    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array
    damaged = ct.copy()
    damaged[10:30, 10:30] = -32768
    outside = np.ones(ct.shape, bool)
    outside[10:30, 10:30] = False
    window = display_window(ct)
    np.testing.assert_allclose(_display(damaged, window)[outside], _display(ct, window)[outside])
    assert _display(damaged, window)[outside].std() > 0.15
    assert _display(damaged)[outside].std() < _display(damaged, window)[outside].std() / 3  # its own range: the slice washes out
    sheet = contact_sheet(
        [("CT_small.dcm / holes", [("reference", ct, window), ("damaged", damaged, window), ("mask", ~outside * 1.0, (0.0, 1.0))])], tmp_path / "s.png"
    )
    assert sheet.stat().st_size > 1000


def test_the_summary_page_is_one_offline_file_with_the_best_method_highlighted_and_failures_named(camera):
    import re

    from restoration.report_page import before_after, best_rows, summary_page
    from restoration.reports import failure_table

    rows = _rows()
    rows = pd.concat([rows, pd.DataFrame([{"method": "nlm", "damage": "holes", "path": "9.png", "status": "failed", "error": "cannot read 9.png"}])])
    rows["status"] = rows["status"].fillna("ok")
    summary = summarise(rows)
    assert [summary.loc[i, "method"] for i in best_rows(summary)] == ["telea"]  # the baseline is never "best"
    mask = np.zeros(camera.shape, bool)
    mask[40:60, 50:90] = True
    crops = [("camera.png / holes / telea", before_after(camera, np.where(mask, 0, camera), camera, mask))]
    page = summary_page(summary, failure_table(rows), title="Benchmark of demo", facts={"seed": "3"}, seconds={"telea": 0.01, "damaged": 0.0}, crops=crops)
    assert "<h1>Benchmark of demo</h1>" in page and "<dt>seed</dt><dd>3</dd>" in page
    assert re.search(r"<tr class='best'><td>telea</td>", page) and "<tr class='baseline'><td>damaged</td>" in page
    assert "Failed: 1" in page and "cannot read 9.png" in page
    assert page.count("data:image/png;base64,") >= 3 + 2  # three crops and both plots, inlined
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", page)  # nothing to fetch: opens offline
