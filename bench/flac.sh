#!/bin/sh
# Benchmarks our FLAC encoder beside the reference encoder (`flac`, libFLAC)
# in one run, on the same input, one thread each, whole processes timed by
# hyperfine; prints a Markdown table of median times, sizes and ratios.
#
#   bench/flac.sh [CORPUS.wav]        (default: corpus/corpus.wav)
#   LEVELS="0 5 8" RUNS=5 THREADS=2 bench/flac.sh
#
# A second table times our encoder with THREADS threads inside the file
# (frames encoded in parallel, `-j N`) beside itself on one thread, and
# checks that both write the same bytes; THREADS=1 skips it.
#
# Build the corpus first with `sh shared/bench/make-corpus.sh corpus` (or
# any 16/24-bit PCM WAV). Needs flac and hyperfine. Output goes to a RAM
# disk when /dev/shm exists. Every file we write is checked with `flac -t`
# (frame CRCs and the MD5 of the decoded samples, so decoding is bit-exact).
set -eu
IN=${1:-corpus/corpus.wav}
LEVELS=${LEVELS:-"0 1 2 3 4 5 6 7 8"}
RUNS=${RUNS:-5}
THREADS=${THREADS:-2}
for tool in flac hyperfine cargo; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
[ -s "$IN" ] || { echo "no input $IN (see shared/bench/make-corpus.sh)" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q --release -p aj-codec --example flac_encode --manifest-path "$ROOT/Cargo.toml"
TARGET=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
AJ="$TARGET/release/examples/flac_encode"
if [ -d /dev/shm ]; then OUT=$(mktemp -d /dev/shm/ajflac.XXXXXX); else OUT=$(mktemp -d); fi
trap 'rm -rf "$OUT"' EXIT
WAV=$(stat -c %s "$IN")

echo "input: $IN ($WAV bytes); flac: $(flac --version); runs: $RUNS"
echo
echo "| level | flac s | aj s | speed (flac time / aj time) | flac bytes | aj bytes | size (aj / flac) | aj % of WAV |"
echo "|---|---|---|---|---|---|---|---|"
for l in $LEVELS; do
  hyperfine -N -w 1 -r "$RUNS" --export-csv "$OUT/t.csv" \
    -n flac "flac -$l -f -s -o $OUT/f.flac $IN" \
    -n aj "$AJ $IN $OUT/a.flac $l" >/dev/null 2>&1
  flac -t -s -w "$OUT/a.flac"
  tf=$(awk -F, '$1=="flac"{print $4}' "$OUT/t.csv")
  ta=$(awk -F, '$1=="aj"{print $4}' "$OUT/t.csv")
  sf=$(stat -c %s "$OUT/f.flac")
  sa=$(stat -c %s "$OUT/a.flac")
  awk -v l="$l" -v tf="$tf" -v ta="$ta" -v sf="$sf" -v sa="$sa" -v w="$WAV" 'BEGIN {
    printf "| %s | %.3f | %.3f | %.2fx | %d | %d | %.4f | %.2f %% |\n",
      l, tf, ta, tf / ta, sf, sa, sa / sf, 100 * sa / w }'
done

[ "$THREADS" -gt 1 ] || exit 0
echo
echo "Threads inside one file: aj with $THREADS threads beside aj with 1 ($(nproc) cores)"
echo
echo "| level | aj 1 thread s | aj $THREADS threads s | speed-up | same bytes |"
echo "|---|---|---|---|---|"
for l in $LEVELS; do
  hyperfine -N -w 1 -r "$RUNS" --export-csv "$OUT/t.csv" \
    -n one "$AJ $IN $OUT/a1.flac $l 1" \
    -n many "$AJ $IN $OUT/an.flac $l $THREADS" >/dev/null 2>&1
  if cmp -s "$OUT/a1.flac" "$OUT/an.flac"; then same=yes; else same=NO; fi
  t1=$(awk -F, '$1=="one"{print $4}' "$OUT/t.csv")
  tn=$(awk -F, '$1=="many"{print $4}' "$OUT/t.csv")
  awk -v l="$l" -v t1="$t1" -v tn="$tn" -v same="$same" 'BEGIN {
    printf "| %s | %.3f | %.3f | %.2fx | %s |\n", l, t1, tn, t1 / tn, same }'
  [ "$same" = yes ] || { echo "threads changed the output at level $l" >&2; exit 1; }
done
