# talklike: the targets people run, on the host or inside the Docker image alike.
#   make demo    install, then the whole journey on a real corpus (ingest, pairs, embeddings, train, chat)
#   make test    install, then the test suite
#   make         lint and tests
# Stage targets take variables: make ingest SOURCES="~/facebook.zip ~/slack.zip" ME="Ana Lima"
#                               make train AS=me MINUTES=10;  make chat AS="Kim"

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
DATA_DIR ?= $(or $(TALKLIKE_DATA),$(CURDIR)/data)
AS       ?= me
ifeq ($(origin AS),default)  # make's built-in AS (the assembler) would shadow ?=
AS       := me
endif
MINUTES  ?= 10
BASE_EPOCHS ?= 6
EPOCHS   ?=
FORMAT   ?= jsonl
OUT      ?= $(DATA_DIR)/export.$(FORMAT)
SOURCES  ?= $(DATA_DIR)/export
ME       ?=

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
ME_ARGS := $(if $(ME),--me "$(ME)")
ZONE_ARGS := $(if $(ZONE),--tz "$(ZONE)")  # ZONE, not TZ: make would take TZ from the environment

.DEFAULT_GOAL := all
.PHONY: all setup test lint format demo bench base ingest people train chat export embed clean build run

all: lint test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,demo]'
	$(BIN)/pip install -q --no-deps $$($(BIN)/python -c "import tomllib; \
	    print(*tomllib.load(open('pyproject.toml', 'rb'))['tool']['talklike']['no-deps'])")
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

base: $(DEPS)  ## rebuild the shipped pretrained base (bot/pretrained/chitchat) from chitchat-dataset (6 epochs: the shipped one's best)
	$(TALKLIKE) pretrain --out bot/pretrained/chitchat --epochs $(BASE_EPOCHS)

bench: $(DEPS)  ## benchmarks: speed, memory, quality figures (printed)
	$(PYBIN) -m bench.run

bench-%: $(DEPS)  ## one benchmark: make bench-ingest, make bench-model [SPEAKER=<chitchat id>], ...
	$(PYBIN) -m bench.run $* $(if $(SPEAKER),--speaker=$(SPEAKER))

ingest: $(DEPS)  ## make ingest SOURCES="export.zip other-export/" [ME="Your Name"] [ZONE=Europe/Lisbon]
	$(TALKLIKE) ingest $(SOURCES) $(ME_ARGS) $(ZONE_ARGS) --data $(DATA_DIR)

people: $(DEPS)  ## who is who in the workspace: you, each friend, their other names
	$(TALKLIKE) people --data $(DATA_DIR)

train: $(DEPS)  ## make train AS=me MINUTES=10
	$(TALKLIKE) train --as "$(AS)" --minutes $(MINUTES) $(if $(EPOCHS),--epochs $(EPOCHS)) --data $(DATA_DIR)

chat: $(DEPS)  ## make chat AS=me
	$(TALKLIKE) chat --as "$(AS)" --data $(DATA_DIR)

export: $(DEPS)  ## make export AS=me FORMAT=parquet OUT=pairs.parquet [EXPORT_ARGS=--redact]
	$(TALKLIKE) export --as "$(AS)" --format $(FORMAT) --out "$(OUT)" --data $(DATA_DIR) $(EXPORT_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis

# --- Docker ------------------------------------------------------------------------------------
# The same targets in the image: `make build`, then `make docker-ingest SOURCES=... ME=...`,
# `make docker-train AS=me`, `make docker-chat AS=me`, `make docker-export ...` take the variables of
# their host twins. DATA_DIR is mounted at /data; SOURCES outside it are mounted read-only under
# /import, an OUT outside it under /out. The container runs as you (DOCKER_USER), so what it writes
# in DATA_DIR is yours. GPU=1 builds and runs talklike-gpu (TensorFlow with CUDA, `--gpus all`).
DOCKER       ?= docker
GPU          ?= 0
IMAGE        ?= talklike$(if $(filter 1,$(GPU)),-gpu)
DOCKER_USER  ?= $(shell id -u):$(shell id -g)
DOCKER_FLAGS ?= $(if $(filter 1,$(GPU)),--gpus all)
DOCKER_STAGES := ingest people train chat export
# the host's zone: inside the image the clock is UTC, and wall-clock times must be read in the host's
HOST_ZONE    := $(shell readlink /etc/localtime 2>/dev/null | sed -n 's|.*zoneinfo/||p')
# a host path made absolute, ~ expanded (make sees "~/x.zip" unexpanded when quoted)
host_path     = $(abspath $(patsubst ~/%,$(HOME)/%,$(1)))
DATA_ABS     := $(call host_path,$(DATA_DIR))
TTY          := $(shell [ -t 0 ] && echo -t)
SILENT       := $(if $(findstring s,$(firstword -$(MAKEFLAGS))),-s)
DOCKER_RUN    = $(DOCKER) run --rm -i $(TTY) --user $(DOCKER_USER) -v "$(DATA_ABS)":/data $(DOCKER_FLAGS)
inside_data   = $(filter $(DATA_ABS) $(DATA_ABS)/%,$(1))
# a host path as the container sees it: /data/... inside DATA_DIR, else the mount point given in $(2)
in_image      = $(foreach p,$(call host_path,$(1)),$(if $(call inside_data,$(p)),$(patsubst $(DATA_ABS)%,/data%,$(p)),$(2)/$(notdir $(p))))
STAGE_VARS    = DATA_DIR=/data AS="$(AS)" ME="$(ME)" ZONE="$(or $(ZONE),$(HOST_ZONE))" MINUTES="$(MINUTES)" EPOCHS="$(EPOCHS)" FORMAT="$(FORMAT)" \
                EXPORT_ARGS="$(EXPORT_ARGS)" SOURCES="$(call in_image,$(SOURCES),/import)" OUT="$(call in_image,$(OUT),/out)"

.PHONY: $(addprefix docker-,$(DOCKER_STAGES)) docker-test docker-session

build:  ## build the image (GPU=1: TensorFlow with CUDA, tagged talklike-gpu)
	$(DOCKER) build --build-arg GPU=$(GPU) -t $(IMAGE) .

run:  ## an interactive shell in the image, with DATA_DIR mounted at /data
	mkdir -p "$(DATA_ABS)"
	$(DOCKER_RUN) $(IMAGE) bash

docker-ingest: MOUNTS = $(foreach p,$(call host_path,$(SOURCES)),$(if $(call inside_data,$(p)),,-v "$(p)":/import/$(notdir $(p)):ro))
docker-export: MOUNTS = $(if $(call inside_data,$(call host_path,$(OUT))),,-v "$(dir $(call host_path,$(OUT)))":/out)
$(addprefix docker-,$(DOCKER_STAGES)): docker-%:  ## a stage target inside the image: make docker-train AS=me
	@mkdir -p "$(DATA_ABS)" $(if $(filter export,$*),"$(dir $(call host_path,$(OUT)))")
	$(DOCKER_RUN) $(MOUNTS) $(IMAGE) make $(SILENT) $* $(STAGE_VARS)

docker-test:  ## build the image and its test stage, run the test suite inside it, then the session
	$(DOCKER) build --build-arg GPU=$(GPU) -t $(IMAGE) .
	$(DOCKER) build --build-arg GPU=$(GPU) --target test -t $(IMAGE)-test .
	$(DOCKER) run --rm $(DOCKER_FLAGS) $(IMAGE)-test
	$(MAKE) docker-session

docker-session:  ## the Docker path end to end: build, ingest an export, train a tiny bot, chat
	tests/docker/session.sh
