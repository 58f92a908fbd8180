import pytest

from restoration.options import Bound
from restoration.registry import REGISTRY, Entry, Registry, RegistryError


def test_every_issue_method_is_registered():
    for name in ["biharmonic", "telea", "navier-stokes", "fsr", "exemplar", "nlm", "tv", "wavelet", "bilateral", "bm3d", "bicubic", "lanczos"]:
        assert name in REGISTRY.names()
    for name in ["psnr", "ssim", "hole_psnr", "hole_ssim"]:
        assert REGISTRY.get(name, kind="metric")


def test_unknown_name_lists_the_choices():
    with pytest.raises(RegistryError, match="choose from: .*telea") as info:
        REGISTRY.get("teela", kind="inpaint")
    assert str(info.value).startswith("unknown inpaint 'teela'")  # a plain line: no quotes around it
    assert isinstance(info.value, ValueError)
    with pytest.raises(RegistryError):
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


@pytest.mark.parametrize(
    "name,options,message",
    [
        ("nlm", {"sigma": -5}, "sigma must be a finite number at least 0"),
        ("nlm", {"sigma": float("nan")}, "got nan"),
        ("nlm", {"sigma": float("inf")}, "got inf"),
        ("telea", {"radius": -1}, "radius must be a finite number above 0"),
        ("telea", {"radius": 0}, "above 0"),
        ("holes", {"ratio": (2, 1)}, "ratio must be a range"),
        ("holes", {"ratio": "0.5-1.5"}, "at most 1"),
        ("cnn-sr", {"scale": 3}, "no shipped model for scale 3 \\(shipped: x2, x4\\)"),
        ("bicubic", {"scale": 1.5}, "scale must be a whole number"),
        ("exemplar", {"patch_size": 8}, "odd"),
        ("jpeg", {"quality": 0}, "quality must be a whole number at least 1"),
        ("fsr", {"quality": "better"}, "one of fast, best"),
        ("blur", {"sigma": 0}, "above 0"),
        ("cnn-denoise", {"tile": 100}, "multiple of 8"),
        ("cnn-denoise", {"self_ensemble": 1}, "self_ensemble must be true or false, got 1"),
        ("gan-inpaint", {"self_ensemble": "maybe"}, "true or false"),
    ],
)
def test_bad_option_values_are_refused_in_one_place(name, options, message):
    with pytest.raises(ValueError, match=message):
        REGISTRY.get(name).check_options(options)


def test_good_option_values_come_back_typed():
    assert REGISTRY.get("holes").check_options({"ratio": "0.2-0.3"}) == {"ratio": (0.2, 0.3)}
    assert REGISTRY.get("bicubic").check_options({"scale": 4.0}) == {"scale": 4}
    assert REGISTRY.get("nlm").check_options({"sigma": 0}) == {"sigma": 0.0}
    assert REGISTRY.get("cnn-sr").check_options({"scale": 4}) == {"scale": 4}
    assert REGISTRY.get("cnn-sr").check_options({"self_ensemble": "True"}) == {"self_ensemble": True}  # a schedule file's text
    assert REGISTRY.get("detect-unet").check_options({"self_ensemble": False}) == {"self_ensemble": False}


def test_a_learned_method_checks_the_model_it_is_given(tmp_path):
    import shutil

    from restoration.learned.catalog import default_model_dir

    with pytest.raises(ValueError, match="no model card"):
        REGISTRY.get("cnn-denoise").check_options({"model": str(tmp_path)})
    shutil.copytree(default_model_dir("cnn-sr-x2"), tmp_path / "sr2")
    with pytest.raises(ValueError, match="is a 'sr' model, and cnn-denoise needs a 'denoise' model"):
        REGISTRY.get("cnn-denoise").check_options({"model": str(tmp_path / "sr2")})
    with pytest.raises(ValueError, match="upscales by 2, not by 4"):
        REGISTRY.get("cnn-sr").check_options({"model": str(tmp_path / "sr2"), "scale": 4})
    assert REGISTRY.get("cnn-sr").check_options({"model": str(tmp_path / "sr2"), "scale": 2})["scale"] == 2


def test_options_are_the_keyword_only_parameters():
    assert REGISTRY.get("exemplar").options == ("patch_size", "search_radius")
    assert REGISTRY.get("fsr").options == ("quality",)
    assert REGISTRY.get("cnn-denoise").options == ("sigma", "model", "tile", "self_ensemble")  # value_range is not a user option
    assert REGISTRY.get("holes").options == ("ratio",)  # nor is rng
    assert REGISTRY.get("telea").defaults() == {"radius": 5.0}


def test_an_option_without_bounds_is_refused_at_registration():
    def fill(image, mask, *, strength: float = 1.0):
        return image

    with pytest.raises(RegistryError, match="strength have no bounds"):
        Registry().add(Entry("x", "inpaint", fill))
    Registry().add(Entry("x", "inpaint", fill, bounds={"strength": Bound("float", low=0, help="How strong.")}))


def test_learned_entries_say_task_default_model_and_recipe():
    from restoration.learned.catalog import default_model_name, learned_tasks, model_directory

    assert learned_tasks() == ["inpaint", "vae", "denoise", "sr", "detect"]
    assert default_model_name("cnn-sr", scale=4) == "cnn-sr-x4"
    assert model_directory("cnn-sr", {"scale": 4}).name == "cnn-sr-x4"
    assert REGISTRY.get("cnn-denoise").learned.recipe.endswith(":DenoiseRecipe")


def test_detectors_name_damage_kinds_they_find():
    # The benchmark scores a detector on the kinds it finds: each must be simulated damage that inpainting repairs.
    detectors = [REGISTRY.get(n) for n in REGISTRY.names(kind="detect")]
    assert any(e.finds for e in detectors) and any(not e.finds for e in detectors)
    for entry in detectors:
        for kind in entry.finds:
            assert REGISTRY.get(kind, kind="damage").repaired_by == "inpaint", (entry.name, kind)
