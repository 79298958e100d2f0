#!/bin/sh
# Times the ripping pipeline itself — the virtual drive, the secure reader,
# the checksums (CRC32, AccurateRip v1/v2, CTDB) and the FLAC encoder with
# verification — on one core, and prints it as a multiple of real time.
#
#   bench/rip.sh [CORPUS_DIR]     (default: corpus; the three track WAVs of
#                                  shared/bench/make-corpus.sh)
#   MODES="secure burst test-and-copy" RUNS=3 bench/rip.sh
#
# The tracks become a three-track disc image (a cue sheet over the WAVs)
# served by the virtual drive with no faults; `aj rip --offline` reads it in
# each mode to FLAC level 5 on a RAM disk, pinned to one core with taskset.
# The image is decoded once when the drive opens, which is counted too.
set -eu
DIR=${1:-corpus}
MODES=${MODES:-"secure burst test-and-copy"}
RUNS=${RUNS:-3}
for tool in hyperfine cargo taskset; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q --release --manifest-path "$ROOT/Cargo.toml"
TARGET=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
AJ="$TARGET/release/aj"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aj-rip-bench.XXXXXX")
[ -d /dev/shm ] && OUT=$(mktemp -d /dev/shm/aj-rip-out.XXXXXX) || OUT="$WORK/out"
trap 'rm -rf "$WORK" "$OUT"' EXIT
CUE="$WORK/disc.cue"
: > "$CUE"
n=0
for f in breaking_the_chains elvish-theme traveling_minstrels; do
  [ -s "$DIR/$f.wav" ] || { echo "no $DIR/$f.wav (see shared/bench/make-corpus.sh)" >&2; exit 1; }
  n=$((n + 1))
  cp "$DIR/$f.wav" "$WORK/$f.wav"
  printf 'FILE "%s.wav" WAVE\n  TRACK %02d AUDIO\n    INDEX 01 00:00:00\n' "$f" "$n" >> "$CUE"
done
SECONDS_OF_AUDIO=$(
  for f in "$WORK"/*.wav; do "$AJ" info --json "$f"; done |
    sed -n 's/.*"duration_seconds":\([0-9.]*\).*/\1/p' | awk '{s += $1} END {printf "%.1f", s}'
)
echo "disc: 3 tracks, $SECONDS_OF_AUDIO s of audio; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| mode | median s | × real time |"
echo "|---|---|---|"
for mode in $MODES; do
  hyperfine -N --runs "$RUNS" --warmup 1 --export-json "$WORK/h.json" \
    --prepare "rm -rf $OUT/r" \
    "taskset -c 0 $AJ rip --drive image:$CUE -o $OUT/r --offline --mode $mode" >/dev/null
  med=$(sed -n 's/.*"median": *\([0-9.]*\).*/\1/p' "$WORK/h.json" | head -1)
  awk -v m="$mode" -v t="$med" -v a="$SECONDS_OF_AUDIO" 'BEGIN {printf "| %s | %.2f | %.0f× |\n", m, t, a / t}'
done
