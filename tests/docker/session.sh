#!/usr/bin/env bash
# The Docker path end to end, as the README tells it: build the image, put a Facebook export in
# the workspace (DATA_DIR, mounted at /data), ingest it, train a small bot, pipe two lines to chat.
# Run by `make docker-session` and at the end of `make docker-test`; DOCKER=podman works too.
#
# The export (tests/docker/facebook_export) is two Messenger threads in the DYI JSON format, written
# by tests/conftest.conversation_export: friends say "hello there", "how are you", "see you
# tomorrow", "want pizza", and Sam Carter (me) answers "hi friend", "good thanks", "bye bye",
# "yes please", 24 (message, reply) pairs in all.
set -euo pipefail
cd "$(dirname "$0")/../.."

DOCKER=${DOCKER:-docker}
IMAGE=${IMAGE:-talklike}
export DOCKER IMAGE
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$work/data
step() { printf '\n==> %s\n' "$*"; }

step "make build"
make --no-print-directory build >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
"$DOCKER" images "$IMAGE"

# The export goes into the workspace (the default SOURCES is DATA_DIR/export); the same export as a
# zip outside it shows SOURCES from anywhere on the host (mounted read-only under /import).
mkdir -p "$data"
cp -r tests/docker/facebook_export "$data/export"
python3 -m zipfile -c "$work/facebook.zip" tests/docker/facebook_export/messages
if [ "$(id -u)" = 0 ]; then
    # As root, `make` would run the container as root (DOCKER_USER is you); show the image's own
    # non-root user instead, owning the workspace as a normal user's would be.
    chown -R 1000:1000 "$data"
    export DOCKER_USER=1000:1000
fi

step "make docker-ingest DATA_DIR=$data ME='Sam Carter'"
make --no-print-directory docker-ingest DATA_DIR="$data" ME="Sam Carter"

step "make docker-ingest DATA_DIR=$data SOURCES=$work/facebook.zip   (the same messages: nothing new)"
make --no-print-directory docker-ingest DATA_DIR="$data" SOURCES="$work/facebook.zip" ME="Sam Carter"

step "make docker-train DATA_DIR=$data AS=me EPOCHS=40 MINUTES=3"
make --no-print-directory docker-train DATA_DIR="$data" AS=me EPOCHS=40 MINUTES=3

step "printf 'hello there\\nwant pizza\\n' | make -s docker-chat DATA_DIR=$data AS=me"
printf 'hello there\nwant pizza\n' | make -s --no-print-directory docker-chat DATA_DIR="$data" AS=me 2>"$work/chat.err" \
    | tee "$work/replies" || { cat "$work/chat.err"; exit 1; }

step "checks"
n=$(grep -c . "$work/replies" || true)
[ "$n" = 2 ] || { echo "expected 2 replies, got $n"; cat "$work/chat.err"; exit 1; }
echo "2 replies, one per line"
owner=$(stat -c %u:%g "$data/messages.parquet"); mode=$(stat -c %a "$data/messages.parquet")
[ "$owner" = "${DOCKER_USER:-$(id -u):$(id -g)}" ] && [ "$mode" = 600 ] \
    || { echo "workspace file $owner mode $mode: expected ${DOCKER_USER:-you} and 600"; exit 1; }
echo "the workspace's files belong to $owner, mode $mode; the bot folder: $(ls "$data/bots/me" | tr '\n' ' ')"
echo "docker session: ok"
