# talklike: the targets people run, on the host or inside the Docker image alike. `make help` lists them.
#   make demo    install, then the whole journey on a real corpus (ingest, pairs, embeddings, train, chat)
#   make test    install, then the test suite
#   make         lint and tests
# Stage targets take variables: make ingest SOURCES="~/facebook.zip ~/slack.zip" ME="Ana Lima"
#                               make ingest SOURCES="'WhatsApp Chat with Kim.txt' ~/facebook.zip"
#                               make train AS=me MINUTES=10;  make chat AS="Kim";  make serve AS=Kim PORT=8080
# Paths may hold spaces: SOURCES is read like a shell line (quote a path with spaces inside it, or give one
# existing path as is); DATA_DIR, OUT and PLOT are one path each. ~ is your home folder in all of them.
# tools/makeargs.py turns them into shell words, so `make -n` shows the exact command.

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
FORMAT   ?=
OUT      ?= $(DATA_DIR)/export.$(or $(FORMAT),jsonl)
SOURCES  ?= $(call sq,$(DATA_DIR)/export)
ME       ?=
PORT     ?=
TOP      ?=
PLOT     ?=

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

# $(call sq,VALUE): VALUE as one single-quoted shell word, whatever it holds
sq        = '$(subst ','\'',$(1))'
# $(call makeargs,ARGS): tools/makeargs.py's shell words (make stops when it refuses the value)
makeargs  = $(shell $(PYTHON) tools/makeargs.py $(1))$(if $(filter-out 0,$(.SHELLSTATUS)),$(error see above))
DATA_ARG  = $(call makeargs,path $(call sq,$(DATA_DIR)))
ME_ARGS   = $(if $(ME),--me $(call sq,$(ME)))
# ZONE, not TZ: make would take TZ from the environment
ZONE_ARGS = $(if $(ZONE),--tz $(call sq,$(ZONE)))

.DEFAULT_GOAL := all
.PHONY: all help setup test lint format demo bench base ingest people embed train chat stats eval export serve \
        clean build run

all: lint test

help:  ## this list: each target with what it does
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-z][a-zA-Z0-9_%-]*:[^=]*## / { printf "  %-16s %s\n", $$1, $$2 }' \
	    $(firstword $(MAKEFILE_LIST))

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/python tools/fbcap.py  # Python 3.12+: fbchat-archive-parser's 2018 setup needs two renamed calls
	$(BIN)/pip install -q -e '.[dev,demo]'
	$(BIN)/pip install -q --no-deps $$($(BIN)/python -c "import tomllib; \
	    print(*tomllib.load(open('pyproject.toml', 'rb'))['tool']['talklike']['no-deps'])")
	touch $@

setup: $(VENV)/.installed  ## create the virtual environment with everything installed (PYTHON=python3.13 to pick one)

test: $(DEPS)  ## run the test suite
	$(PYBIN) -m pytest -n 2 --dist loadfile

lint: $(DEPS)  ## ruff
	$(PYBIN) -m ruff check .

format: $(DEPS)  ## ruff's fixes, applied
	$(PYBIN) -m ruff check --fix .

demo: $(DEPS)  ## the whole journey on chitchat-dataset, in DATA_DIR/demo
	$(TALKLIKE) demo --data $(call makeargs,path $(call sq,$(DATA_DIR)/demo))

base: $(DEPS)  ## rebuild the shipped pretrained base (bot/pretrained/chitchat) from chitchat-dataset (6 epochs: the shipped one's best)
	$(TALKLIKE) pretrain --out bot/pretrained/chitchat --epochs $(call sq,$(BASE_EPOCHS))

bench: $(DEPS)  ## benchmarks: speed, memory, quality figures (printed)
	$(PYBIN) -m bench.run

bench-%: $(DEPS)  ## one benchmark: make bench-ingest, make bench-model [SPEAKER=<chitchat id>], ...
	$(PYBIN) -m bench.run $(call sq,$*) $(if $(SPEAKER),--speaker=$(call sq,$(SPEAKER)))

ingest: $(DEPS)  ## read exports: make ingest SOURCES="export.zip 'WhatsApp Chat with Kim.txt'" [ME="Your Name"] [ZONE=Europe/Lisbon]
	$(TALKLIKE) ingest $(call makeargs,sources $(call sq,$(SOURCES))) $(ME_ARGS) $(ZONE_ARGS) --data $(DATA_ARG)

people: $(DEPS)  ## who is who in the workspace: you, each friend, their other names
	$(TALKLIKE) people --data $(DATA_ARG)

embed: $(DEPS)  ## word vectors from the workspace's messages: make embed [EMBED_ARGS="--algo fasttext"]
	$(TALKLIKE) embed --data $(DATA_ARG) $(EMBED_ARGS)

train: $(DEPS)  ## train a bot: make train AS=me MINUTES=10 [EPOCHS=30] [TRAIN_ARGS=--embeddings]
	$(TALKLIKE) train --as $(call sq,$(AS)) --minutes $(call sq,$(MINUTES)) $(if $(EPOCHS),--epochs $(call sq,$(EPOCHS))) \
	    --data $(DATA_ARG) $(TRAIN_ARGS)

chat: $(DEPS)  ## talk with a bot in the terminal: make chat AS=me
	$(TALKLIKE) chat --as $(call sq,$(AS)) --data $(DATA_ARG)

stats: $(DEPS)  ## who you talk with, how much, in which words: make stats [TOP=10] [PLOT=stats.svg (.png, .pdf)]
	$(TALKLIKE) stats --data $(DATA_ARG) $(if $(TOP),--top $(call sq,$(TOP))) \
	    $(if $(PLOT),--plot $(call makeargs,path $(call sq,$(PLOT))))

eval: $(DEPS)  ## measure a bot against baselines: make eval AS=me [EVAL_ARGS="--baselines all"]
	$(TALKLIKE) eval --as $(call sq,$(AS)) --data $(DATA_ARG) $(EVAL_ARGS)

export: $(DEPS)  ## pairs for other ML tools: make export AS=me OUT=pairs.parquet [FORMAT=chat-jsonl] [EXPORT_ARGS=--redact]
	$(TALKLIKE) export --as $(call sq,$(AS)) $(if $(FORMAT),--format $(call sq,$(FORMAT))) \
	    --out $(call makeargs,path $(call sq,$(OUT))) --data $(DATA_ARG) $(EXPORT_ARGS)

serve: $(DEPS)  ## the web chat page and the APIs on 127.0.0.1: make serve AS=me [PORT=8000] [SERVE_ARGS=...]
	$(TALKLIKE) serve --as $(call sq,$(AS)) --data $(DATA_ARG) $(if $(PORT),--port $(call sq,$(PORT))) $(SERVE_ARGS)

clean:  ## remove the virtual environment and the build and test caches
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis

# --- Docker ------------------------------------------------------------------------------------
# The same targets in the image: `make build`, then `make docker-ingest SOURCES=... ME=...`,
# `make docker-train AS=me`, `make docker-chat AS=me`, ... take the variables of their host twins.
# Mounts, and nothing else: DATA_DIR at /data (read-write); each of SOURCES outside it read-only at
# /import/<n>/<its name>; for an OUT (or PLOT) outside DATA_DIR, a fresh empty folder made beside it,
# at /out, whose one file is then moved to OUT (so `OUT=~/pairs.parquet` never mounts your home folder).
# Other paths given to the image (EVAL_ARGS="--pairs ...") must lie in DATA_DIR, as /data/...
# `make docker-serve` publishes PORT (default 8000) on 127.0.0.1 only; the server inside listens on
# 0.0.0.0 with --allow-no-token, which is safe only because of that. The container runs as you
# (DOCKER_USER), so what it writes is yours. GPU=1 builds and runs talklike-gpu (TensorFlow with CUDA).
DOCKER       ?= docker
GPU          ?= 0
IMAGE        ?= talklike$(if $(filter 1,$(GPU)),-gpu)
DOCKER_USER  ?= $(shell id -u):$(shell id -g)
DOCKER_FLAGS ?= $(if $(filter 1,$(GPU)),--gpus all)
DOCKER_STAGES := ingest people embed train chat stats eval export serve
# the host's zone: inside the image the clock is UTC, and wall-clock times must be read in the host's
HOST_ZONE    := $(shell readlink /etc/localtime 2>/dev/null | sed -n 's|.*zoneinfo/||p')
# DATA_DIR made absolute, ~ expanded (computed once, when a Docker target needs it)
DATA_ABS      = $(eval DATA_ABS := $(call makeargs,abs $(call sq,$(DATA_DIR))))$(DATA_ABS)
DATA_Q        = $(call sq,$(DATA_ABS))
TTY          := $(shell [ -t 0 ] && echo -t)
SILENT       := $(if $(findstring s,$(firstword -$(MAKEFLAGS))),-s)
DOCKER_RUN    = $(DOCKER) run --rm -i $(TTY) --user $(DOCKER_USER) -v $(DATA_Q):/data $(DOCKER_FLAGS)
STAGE_VARS    = DATA_DIR=/data AS=$(call sq,$(AS)) ME=$(call sq,$(ME)) ZONE=$(call sq,$(or $(ZONE),$(HOST_ZONE))) \
                MINUTES=$(call sq,$(MINUTES)) EPOCHS=$(call sq,$(EPOCHS)) FORMAT=$(call sq,$(FORMAT)) TOP=$(call sq,$(TOP)) \
                EXPORT_ARGS=$(call sq,$(EXPORT_ARGS)) EVAL_ARGS=$(call sq,$(EVAL_ARGS)) \
                EMBED_ARGS=$(call sq,$(EMBED_ARGS)) TRAIN_ARGS=$(call sq,$(TRAIN_ARGS))
# $(call in_docker,STAGE,MORE VARIABLES,DOCKER OPTIONS): the stage's make target in the image
in_docker     = $(DOCKER_RUN) $(3) $(IMAGE) make $(SILENT) $(1) $(STAGE_VARS) $(2)
# $(call in_docker_out,STAGE,VARIABLE,HOST PATH): the same, the file VARIABLE names written to HOST PATH;
# outside DATA_DIR, through a fresh folder beside it (owner-only), the only one mounted besides /data
out_parent    = $(call makeargs,out-parent $(DATA_Q) $(call sq,$(3)))
in_docker_out = $(if $(out_parent),\
    mkdir -p $(out_parent) && tmp=$$(mktemp -d $(out_parent)/.talklike-out.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && trap 'exit 130' HUP INT TERM && \
    { [ "$$(id -u)" != 0 ] || chown $(DOCKER_USER) "$$tmp"; } && \
    $(call in_docker,$(1),$(2)=$(call makeargs,image-out $(DATA_Q) $(call sq,$(3))),-v "$$tmp":/out) && \
    $(PYTHON) tools/makeargs.py place "$$tmp" $(call sq,$(3)),\
    $(call in_docker,$(1),$(2)=$(call makeargs,image-out $(DATA_Q) $(call sq,$(3)))))

.PHONY: $(addprefix docker-,$(DOCKER_STAGES)) docker-test docker-session

build:  ## build the image (GPU=1: TensorFlow with CUDA, tagged talklike-gpu)
	$(DOCKER) build --build-arg GPU=$(GPU) -t $(IMAGE) .

run:  ## an interactive shell in the image, with DATA_DIR mounted at /data
	mkdir -p $(DATA_Q)
	$(DOCKER_RUN) $(IMAGE) bash

docker-ingest:  ## ingest in the image; SOURCES outside DATA_DIR are mounted read-only
	@mkdir -p $(DATA_Q)
	$(call in_docker,ingest,SOURCES=$(call makeargs,image-sources $(DATA_Q) $(call sq,$(SOURCES))),\
	    $(call makeargs,mounts $(DATA_Q) $(call sq,$(SOURCES))))

docker-people:  ## people in the image
	@mkdir -p $(DATA_Q)
	$(call in_docker,people)

docker-embed:  ## embed in the image: make docker-embed [EMBED_ARGS=...]
	@mkdir -p $(DATA_Q)
	$(call in_docker,embed)

docker-train:  ## train in the image: make docker-train AS=me MINUTES=10
	@mkdir -p $(DATA_Q)
	$(call in_docker,train)

docker-chat:  ## chat in the image: make docker-chat AS=me
	@mkdir -p $(DATA_Q)
	$(call in_docker,chat)

docker-stats:  ## stats in the image; a PLOT outside DATA_DIR is written through a fresh folder beside it
	@mkdir -p $(DATA_Q)
	$(if $(PLOT),$(call in_docker_out,stats,PLOT,$(PLOT)),$(call in_docker,stats))

docker-eval:  ## eval in the image: make docker-eval AS=me [EVAL_ARGS="--pairs /data/pairs.parquet"]
	@mkdir -p $(DATA_Q)
	$(call in_docker,eval)

docker-export:  ## export in the image; an OUT outside DATA_DIR is written through a fresh folder beside it
	@mkdir -p $(DATA_Q)
	$(call in_docker_out,export,OUT,$(OUT))

docker-serve:  ## serve in the image, published on 127.0.0.1:PORT (default 8000) only
	@mkdir -p $(DATA_Q)
	$(call in_docker,serve,PORT=8000 SERVE_ARGS='--host 0.0.0.0 --allow-no-token',\
	    -p $(call sq,127.0.0.1:$(or $(PORT),8000):8000))

docker-test:  ## build the image and its test stage, run the test suite inside it, then the session
	$(DOCKER) build --build-arg GPU=$(GPU) -t $(IMAGE) .
	$(DOCKER) build --build-arg GPU=$(GPU) --target test -t $(IMAGE)-test .
	$(DOCKER) run --rm $(DOCKER_FLAGS) $(IMAGE)-test
	$(MAKE) docker-session

docker-session:  ## the Docker path end to end: build, ingest exports (names with spaces), train a tiny bot, chat
	tests/docker/session.sh
