#!/bin/sh
# Load on the daemon: 100 server-sent-event clients connected and 50
# requests/s of job polling while conversions run, for 60 s. Prints a
# Markdown table: poll latency p50/p99, errors, dropped SSE connections,
# the daemon's peak RSS, the load average.
#
#   bench/serve-load.sh                    (the defaults below)
#   SECONDS_=30 SSE=200 RATE=100 bench/serve-load.sh
#
# The load generator is bench/serve_load.py (Python standard library). The
# library is FILES generated WAVs (stereo 16-bit 44.1 kHz noise) of
# FILE_SECONDS each, converted to FLAC again and again (two jobs queued or
# running at any time), with one encoder per core.
set -eu
SECONDS_=${SECONDS_:-60}
SSE=${SSE:-100}
RATE=${RATE:-50}
FILES=${FILES:-8}
FILE_SECONDS=${FILE_SECONDS:-20}
for tool in cargo python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q --release --manifest-path "$ROOT/Cargo.toml"
TARGET=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: SECONDS_=$SECONDS_ SSE=$SSE RATE=$RATE FILES=$FILES FILE_SECONDS=$FILE_SECONDS bench/serve-load.sh"
echo
exec python3 "$ROOT/bench/serve_load.py" --aj "$TARGET/release/aj" \
  --seconds "$SECONDS_" --sse "$SSE" --rate "$RATE" \
  --files "$FILES" --file-seconds "$FILE_SECONDS"
