# talklike in a container. CPU image by default; GPU image with:
#   docker build --build-arg GPU=1 -t talklike-gpu .   and run it with   docker run --gpus all ...
FROM python:3.11-slim

ARG GPU=0
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TALKLIKE_DATA=/data TALKLIKE_IN_CONTAINER=1 TF_CPP_MIN_LOG_LEVEL=2

RUN useradd --create-home --uid 1000 talklike && mkdir -p /data /app && chown talklike /data /app
WORKDIR /app

# Dependencies first, in their own layer: code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p ingest embeddings bot && touch ingest/__init__.py embeddings/__init__.py bot/__init__.py \
 && pip install '.[demo,dev]' \
 && if [ "$GPU" = "1" ]; then pip uninstall -y tensorflow-cpu && pip install 'tensorflow[and-cuda]'; fi \
 && pip uninstall -y talklike

COPY . .
RUN pip install --no-deps . && chown -R talklike /app

USER talklike
VOLUME ["/data"]
CMD ["talklike", "--help"]
