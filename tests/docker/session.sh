#!/usr/bin/env bash
# The Docker path end to end, as the README tells it: build the image, put a Facebook export in
# the workspace (DATA_DIR, mounted at /data), ingest it (and the same export from outside, under a name
# with spaces), plot the stats to an SVG outside the workspace, train a small bot, pipe two lines to
# chat, export the pairs outside the workspace.
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

# A name with spaces in a folder with spaces (WhatsApp names its files "WhatsApp Chat with Kim.txt"): one
# argument, one read-only mount of that file alone.
mkdir -p "$work/my exports"
cp "$work/facebook.zip" "$work/my exports/Facebook export (Sam).zip"
step "make docker-ingest DATA_DIR=$data SOURCES='$work/my exports/Facebook export (Sam).zip'   (spaces: nothing new)"
make --no-print-directory docker-ingest DATA_DIR="$data" SOURCES="$work/my exports/Facebook export (Sam).zip" ME="Sam Carter"
[ -z "$(find "$data" -type d -name '*export (Sam)*')" ] || { echo "a source was created as a folder"; exit 1; }

step "make docker-stats DATA_DIR=$data PLOT='$work/plots dir/by month.svg'"
make --no-print-directory docker-stats DATA_DIR="$data" PLOT="$work/plots dir/by month.svg"
head -c 5 "$work/plots dir/by month.svg" | grep -q '<?xml' || { echo "the plot is not an SVG"; exit 1; }

step "make docker-train DATA_DIR=$data AS=me EPOCHS=40 MINUTES=3"
make --no-print-directory docker-train DATA_DIR="$data" AS=me EPOCHS=40 MINUTES=3

step "printf 'hello there\\nwant pizza\\n' | make -s docker-chat DATA_DIR=$data AS=me"
printf 'hello there\nwant pizza\n' | make -s --no-print-directory docker-chat DATA_DIR="$data" AS=me 2>"$work/chat.err" \
    | tee "$work/replies" || { cat "$work/chat.err"; exit 1; }

step "make docker-export DATA_DIR=$data OUT='$work/out dir/pairs.jsonl'   (only a fresh folder beside it is mounted)"
make --no-print-directory docker-export DATA_DIR="$data" OUT="$work/out dir/pairs.jsonl"
[ "$(ls -A "$work/out dir")" = pairs.jsonl ] || { echo "expected only pairs.jsonl in the out folder"; ls -A "$work/out dir"; exit 1; }
echo "$(grep -c . "$work/out dir/pairs.jsonl") pairs exported"

step "checks"
n=$(grep -c . "$work/replies" || true)
[ "$n" = 2 ] || { echo "expected 2 replies, got $n"; cat "$work/chat.err"; exit 1; }
echo "2 replies, one per line"
owner=$(stat -c %u:%g "$data/messages.parquet"); mode=$(stat -c %a "$data/messages.parquet")
[ "$owner" = "${DOCKER_USER:-$(id -u):$(id -g)}" ] && [ "$mode" = 600 ] \
    || { echo "workspace file $owner mode $mode: expected ${DOCKER_USER:-you} and 600"; exit 1; }
echo "the workspace's files belong to $owner, mode $mode; the bot folder: $(ls "$data/bots/me" | tr '\n' ' ')"
echo "docker session: ok"
