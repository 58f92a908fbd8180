# Set-up and entry points. torch==2.13.0 is installed first: it is the local
# CPU wheel, and any other torch spec downloads gigabytes of CUDA packages.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
OUT ?= demo-out

.PHONY: test-fast install install-test demo test bench reliability memory models clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

# Tests also install the optional bm3d extra (non-commercial licence) so that it is tested.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test,bm3d]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/archive-restore demo --out $(OUT)
	$(BIN)/archive-restore package-images train-images   # what the on-demand training deployment trains on

test: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PREFECT_HOME=$$(mktemp -d) PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/python -m pytest -q

# The fast library tests alone (under a minute): no server, browser, Dask cluster, kill or training.
test-fast: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PREFECT_HOME=$$(mktemp -d) $(BIN)/python -m pytest -q -m "not slow"

bench: install-test
	$(BIN)/python bench/demo_benchmark.py

# RELIABILITY.md: the hostile corpus and kill -9 / rerun (about 3 minutes).
reliability: install-test
	$(BIN)/python bench/reliability.py

# BENCHMARKS.md: peak memory of every method on a 12000 x 9000 16-bit scan (hours: bm3d alone ~1.5 h).
memory: install-test
	$(BIN)/python bench/memory.py

# The shipped default models: trained by our own `train` command on images
# from installed packages and, for the denoiser and the
# inpainter, DnCNN's Train400 (../shared/training, BSDS crops, non-commercial
# licence; read from there, never copied). Never on ../shared/benchmarks.
# CPU budget on the 2-core machine: ~3 h.
MODELS = restoration/learned/default_models
TRAIN400 = ../shared/training/Train400
PACKAGE_LICENCE = scikit-image and matplotlib sample images (public domain or Creative Commons, see skimage.data)
TRAIN400_LICENCE = Train400: 400 crops of the Berkeley Segmentation Dataset (BSDS300) as used by DnCNN, free for non-commercial research and educational use only; train-images: $(PACKAGE_LICENCE)
TRAIN = $(BIN)/archive-restore train --data train-images --checkpoint-every 250 --validate-every 250 --data-licence "$(PACKAGE_LICENCE)"
TRAIN_BOTH = $(BIN)/archive-restore train --data $(TRAIN400) --data train-images --checkpoint-every 250 --validate-every 250 --data-licence "$(TRAIN400_LICENCE)"
models: install
	$(BIN)/archive-restore package-images train-images
	$(TRAIN_BOTH) --task denoise --out $(MODELS)/cnn-denoise --steps 8000 --batch-size 16 --patch 64
	$(TRAIN) --task sr --scale 2 --out $(MODELS)/cnn-sr-x2 --steps 2000 --batch-size 16 --patch 96
	$(TRAIN) --task sr --scale 4 --out $(MODELS)/cnn-sr-x4 --steps 1500 --batch-size 16 --patch 128
	$(TRAIN) --task vae --out $(MODELS)/vae --steps 1500 --batch-size 16 --patch 64
	$(BIN)/archive-restore train --data $(TRAIN400) --data train-images --checkpoint-every 50 --validate-every 50 --data-licence "$(TRAIN400_LICENCE)" --task inpaint --out $(MODELS)/gan-inpaint --steps 150 --batch-size 8 --patch 96 --lr 5e-4
	$(TRAIN) --task detect --out $(MODELS)/detect-unet --steps 3000 --batch-size 12 --patch 96
	rm -f $(MODELS)/*/checkpoint.pt

clean:
	rm -rf $(VENV) $(OUT) bench/out
