import pytest

from restoration.registry import REGISTRY, Entry, Registry


def test_every_issue_method_is_registered():
    for name in ["biharmonic", "telea", "navier-stokes", "fsr", "exemplar", "nlm", "tv", "wavelet", "bilateral", "bm3d", "bicubic", "lanczos"]:
        assert name in REGISTRY.names()
    for name in ["psnr", "ssim", "hole_psnr", "hole_ssim"]:
        assert REGISTRY.get(name, kind="metric")


def test_unknown_name_lists_the_choices():
    with pytest.raises(KeyError, match="choose from: .*telea"):
        REGISTRY.get("teela", kind="inpaint")
    with pytest.raises(KeyError):
        REGISTRY.get("holes", kind="inpaint")  # right name, wrong kind


def test_misspelt_option_is_refused():
    entry = REGISTRY.get("telea")
    assert entry.check_options({"radius": 3, "sigma": None}) == {"radius": 3}
    with pytest.raises(ValueError, match="does not take radiuss"):
        entry.check_options({"radiuss": 3})


def test_names_are_unique():
    registry = Registry([Entry("a", "metric", abs)])
    with pytest.raises(ValueError, match="already registered"):
        registry.add(Entry("a", "inpaint", abs))


def test_classical_methods_do_not_import_torch():
    """A process that runs only classical methods (a Dask worker, a served run) never loads torch."""
    import subprocess
    import sys

    code = "import sys; from restoration.registry import REGISTRY; import tasks.restore; REGISTRY.get('nlm'); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
