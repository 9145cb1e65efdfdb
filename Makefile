# The two quick-start commands (see README): `make demo` and `make test`.
# Both set everything up first: a virtual environment in .venv with the pinned torch/torchvision/nbdev.
SHELL   := bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup demo test readme lab docs browser e2e

# The package is installed editable, so code changes need no reinstall; after changing dependencies: rm -r .venv
# (no file prerequisite here: nbdev-export rewrites pyproject.toml's timestamp, which would reinstall every time).
$(STAMP):
	$(PYTHON) -m venv $(VENV)
	@echo "Installing torch, torchvision, nbdev, jupyterlab into $(VENV) (first time only; a few minutes)..."
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 \
	  | { grep -v "is ignored: it is neither a file nor a directory" || true; }   # noise from local package mirrors
	@touch $@

setup: $(STAMP)

demo: setup          ## pretrain on the embedded CIFAR-10 subset (~10 CPU minutes), then evaluate
	$(BIN)/moco-demo

test: setup browser  ## run every notebook's tests (nbdev-test) and print "N passed, M failed"
	scripts/test

readme: setup        ## README.md is generated from nbs/index.ipynb (Quarto is not needed); its links are relative to nbs/, README's to the root
	$(BIN)/jupyter nbconvert --log-level WARN --to markdown nbs/index.ipynb --output-dir . --output README
	sed -i -e 's#](images/#](nbs/images/#g' -e 's#](\.\./#](#g' README.md

lab: setup           ## open the notebooks in JupyterLab
	$(BIN)/jupyter lab nbs

docs: setup          ## the notebooks as a static site in _docs/site (offline, from their stored outputs): open _docs/site/index.html
	$(BIN)/python scripts/docs.py

browser:             ## Chromium + chromedriver for the JupyterLab e2e test (apt-get, only when missing)
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "Installing chromium and chromium-driver with apt-get..."; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; \
	fi

e2e: setup browser   ## a reader's Run All in JupyterLab (headless Chromium) must show a figure and a widget: NB=...
	$(BIN)/python tests/e2e_jupyterlab.py $(NB)
