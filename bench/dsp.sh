#!/bin/sh
# Benchmarks resampling: `aj convert --rate` beside `sox rate -v` (very high
# quality), whole processes timed by hyperfine, one thread each, same input,
# same output format (WAV, TPDF-dithered to the output depth by both);
# prints a Markdown table of median times and the ratio.
#
#   bench/dsp.sh [CORPUS.wav]         (default: corpus/corpus.wav)
#   RUNS=5 bench/dsp.sh
#
# Cases: the 44.1 kHz / 16-bit corpus to 48 kHz / 16-bit, and a 96 kHz /
# 24-bit version of it (made once with `sox rate -v`, kept beside the
# corpus) to 44.1 kHz / 24-bit. Build the corpus first with
# `sh shared/bench/make-corpus.sh corpus`. Needs sox and hyperfine. Output
# goes to a RAM disk when /dev/shm exists. The quality of both resamplers
# is measured by `cargo test -p aj-dsp --test resample_quality` (docs/dsp.md).
set -eu
IN=${1:-corpus/corpus.wav}
RUNS=${RUNS:-5}
for tool in sox hyperfine cargo; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
[ -s "$IN" ] || { echo "no input $IN (see shared/bench/make-corpus.sh)" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q --release --bin aj --manifest-path "$ROOT/Cargo.toml"
TARGET=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
AJ="$TARGET/release/aj"
HI="${IN%.wav}-96k24.wav"
[ -s "$HI" ] || sox "$IN" -b 24 "$HI" rate -v 96000
if [ -d /dev/shm ]; then OUT=$(mktemp -d /dev/shm/ajdsp.XXXXXX); else OUT=$(mktemp -d); fi
trap 'rm -rf "$OUT"' EXIT

echo "input: $IN ($(soxi -D "$IN") s); $(sox --version | sed 's/^sox: *//'); runs: $RUNS"
echo
echo "| case | sox rate -v s | aj convert --rate s | speed (sox time / aj time) |"
echo "|---|---|---|---|"
bench() { # name input rate bits
  hyperfine -N -w 1 -r "$RUNS" --export-csv "$OUT/t.csv" \
    -n sox "sox $2 -b $4 $OUT/s.wav rate -v $3" \
    -n aj "$AJ convert $2 -f wav --rate $3 --bits $4 -j 1 --no-verify --overwrite -o $OUT" \
    >/dev/null 2>&1
  ts=$(awk -F, '$1=="sox"{print $4}' "$OUT/t.csv")
  ta=$(awk -F, '$1=="aj"{print $4}' "$OUT/t.csv")
  awk -v n="$1" -v ts="$ts" -v ta="$ta" 'BEGIN {
    printf "| %s | %.3f | %.3f | %.2fx |\n", n, ts, ta, ts / ta }'
}
bench "44.1 kHz/16 → 48 kHz/16" "$IN" 48000 16
bench "96 kHz/24 → 44.1 kHz/24" "$HI" 44100 24
echo
echo "Exact commands (per case): sox IN -b BITS OUT.wav rate -v RATE;"
echo "aj convert IN -f wav --rate RATE --bits BITS -j 1 --no-verify --overwrite -o DIR"
