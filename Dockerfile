# talklike in a container: the CPU image by default, a CUDA image with a build argument.
#
#   docker build -t talklike .                                # CPU: tensorflow-cpu
#   docker build --build-arg GPU=1 -t talklike-gpu .          # GPU: tensorflow[and-cuda]
#   docker run --rm -it -v "$PWD/data":/data talklike bash     # a shell, the workspace at /data
#   docker run --rm -it --gpus all -v "$PWD/data":/data talklike-gpu talklike train --as me
#   docker build --target test -t talklike-test . && docker run --rm talklike-test   # the tests
#
# Layers, cheapest to change last: the system set-up, then the Python dependencies (read from
# pyproject.toml alone, so editing the code never reinstalls TensorFlow), then the code. The
# `test` stage adds the dev extra. The `make` targets work inside the image as on the host
# (TALKLIKE_IN_CONTAINER switches them).

ARG PYTHON_IMAGE=python:3.11-slim

# ------------------------------------------------------------------------------------------ runtime
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    TALKLIKE_DATA=/data TALKLIKE_IN_CONTAINER=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MPLCONFIGDIR=/tmp/matplotlib
# make runs the stage targets (the official slim image lacks it). The user owns /data only: the
# code and the libraries stay read-only for it.
RUN if ! command -v make >/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends make \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
 && useradd --create-home --uid 1000 --shell /bin/bash talklike \
 && install -d -o talklike -g talklike -m 0700 /data

# The dependencies: pyproject.toml's (and, without theirs, its [tool.talklike] no-deps: the sentence
# encoder's weights) plus those of EXTRAS (demo = the chitchat-dataset corpus and gensim for word
# vectors; serve = the web page and the APIs of `talklike serve`, `make docker-serve`), listed by
# tools/requirements.py; GPU=1 swaps tensorflow-cpu for tensorflow[and-cuda]. Then, in the same
# layer, the trim (about 0.6 GB): TensorFlow's C++ headers (for compiling custom ops only), its
# debug symbols (strip keeps the dynamic ones; TensorFlow's own libraries only: stripping
# auditwheel-patched ones such as numpy's OpenBLAS breaks them) and the libraries' own test
# suites. binutils (strip) comes and goes within this one RUN, so no layer holds it, nor any cache
# (MPLCONFIGDIR must not exist yet: the user creates it).
ARG GPU=0
ARG EXTRAS=demo,serve
COPY pyproject.toml tools/requirements.py /tmp/
RUN python /tmp/requirements.py /tmp/pyproject.toml "$EXTRAS" $([ "$GPU" = 1 ] && echo --gpu) > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && pip install --no-deps $(python -c "import tomllib; \
print(*tomllib.load(open('/tmp/pyproject.toml', 'rb'))['tool']['talklike']['no-deps'])") \
 && apt-get update && apt-get install -y --no-install-recommends binutils \
 && cd "$(pip show keras | sed -n 's/^Location: //p')" \
 && rm -rf tensorflow/include \
 && find tensorflow -name '*.so*' -type f -exec strip --strip-unneeded {} + \
 && { find numpy scipy pandas pyarrow matplotlib gensim -depth -type d \( -name tests -o -name test \) \
         -exec rm -rf {} + 2>/dev/null || true; } \
 && apt-get purge -y --auto-remove binutils && rm -rf /var/lib/apt/lists/* /tmp/requirements.txt /tmp/pyproject.toml /tmp/requirements.py \
 && python -c "import tensorflow, keras, pandas, pyarrow, scipy.linalg" \
 && rm -rf /tmp/* /root/.keras /root/.cache

# The code. tests/ comes along (about 1 MB) for the test stage.
WORKDIR /app
COPY . .
RUN pip install --no-deps . && rm -rf build *.egg-info
USER talklike
VOLUME ["/data"]
CMD ["talklike", "--help"]

# ------------------------------------------------------------------------------------------ test
# The runtime image plus the dev extra (its talklike[...] extras expanded, never fetched from an index):
# `docker run --rm talklike-test` runs `make test` in it as the non-root user, with /app read-only
# (the test caches go to /tmp).
FROM runtime AS test
USER root
RUN python tools/requirements.py pyproject.toml dev --extras-only > /tmp/requirements-dev.txt \
 && pip install -r /tmp/requirements-dev.txt && rm /tmp/requirements-dev.txt
USER talklike
ENV HYPOTHESIS_STORAGE_DIRECTORY=/tmp/hypothesis PYTEST_ADDOPTS="-p no:cacheprovider"
CMD ["make", "test"]

# ------------------------------------------------------------------------------------------ default
# `docker build .` without --target gives the runtime image.
FROM runtime
