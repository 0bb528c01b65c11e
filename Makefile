# talklike: the targets people run, on the host or inside the Docker image alike.
#   make demo    install, then the whole journey on a real corpus (ingest, pairs, embeddings, train, chat)
#   make test    install, then the test suite
#   make         lint and tests
# Stage targets take variables: make ingest SOURCES="~/facebook.zip ~/slack.zip" ME="Ana Lima"
#                               make train AS=me MINUTES=10;  make chat AS="Kim"

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
DATA_DIR ?= $(CURDIR)/data
AS       ?= me
MINUTES  ?= 10
FORMAT   ?= jsonl
OUT      ?= $(DATA_DIR)/export.$(FORMAT)
SOURCES  ?= /data/export
ME       ?=
DOCKER   ?= docker
IMAGE    ?= talklike
GPU      ?= 0

# Inside the image talklike is on the PATH and already installed; on the host it lives in the venv.
ifdef TALKLIKE_IN_CONTAINER
TALKLIKE := talklike
PYBIN    := python
DEPS     :=
else
TALKLIKE := $(BIN)/talklike
PYBIN    := $(BIN)/python
DEPS     := setup
endif
ME_ARGS := $(foreach n,$(ME),--me "$(n)")

.DEFAULT_GOAL := all
.PHONY: all setup test lint format demo bench ingest train chat export embed clean build run

all: lint test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,demo]'
	touch $@

setup: $(VENV)/.installed  ## create the virtual environment with everything installed

test: $(DEPS)  ## run the test suite
	$(PYBIN) -m pytest -n 2 --dist loadfile

lint: $(DEPS)  ## ruff
	$(PYBIN) -m ruff check .

format: $(DEPS)
	$(PYBIN) -m ruff check --fix .

demo: $(DEPS)  ## the whole journey on chitchat-dataset, in ./data/demo
	$(TALKLIKE) demo --data $(DATA_DIR)/demo

bench: $(DEPS)  ## benchmarks: speed, memory, quality figures (printed)
	$(PYBIN) -m bench.run

bench-%: $(DEPS)  ## one benchmark: make bench-ingest, make bench-model, ...
	$(PYBIN) -m bench.run $*

ingest: $(DEPS)  ## make ingest SOURCES="export.zip other-export/" [ME="Your Name"]
	$(TALKLIKE) ingest $(SOURCES) $(ME_ARGS) --data $(DATA_DIR)

train: $(DEPS)  ## make train AS=me MINUTES=10
	$(TALKLIKE) train --as "$(AS)" --minutes $(MINUTES) --data $(DATA_DIR)

chat: $(DEPS)  ## make chat AS=me
	$(TALKLIKE) chat --as "$(AS)" --data $(DATA_DIR)

export: $(DEPS)  ## make export AS=me FORMAT=parquet OUT=pairs.parquet [EXPORT_ARGS=--redact]
	$(TALKLIKE) export --as "$(AS)" --format $(FORMAT) --out "$(OUT)" --data $(DATA_DIR) $(EXPORT_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis

# --- Docker ------------------------------------------------------------------------------------
build:  ## build the image (GPU=1 for TensorFlow with CUDA)
	$(DOCKER) build --build-arg GPU=$(GPU) -t $(IMAGE) .

run:  ## an interactive shell in the image, with DATA_DIR mounted at /data
	mkdir -p $(DATA_DIR)
	$(DOCKER) run --rm -it -v $(DATA_DIR):/data $(IMAGE) bash
