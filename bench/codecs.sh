#!/bin/sh
# Benchmarks `aj convert` beside the peer tools built on the same codec
# libraries, in one run, on the same input, one thread each (both sides
# pinned to one core with `taskset -c 0`, ours with `-j 1`), whole processes
# timed by hyperfine; prints Markdown tables of median times and ratios
# (peer time / aj time: above 1 means aj is faster).
#
#   bench/codecs.sh [CORPUS_DIR]      (default: corpus)
#   ROUNDS=5 CASES="mp3v2 mp3cbr vorbis opus opus48 flacdec jobs" bench/codecs.sh corpus
#
# CORPUS_DIR is what `sh shared/bench/make-corpus.sh DIR` makes: the three
# track WAVs, corpus.wav (them end to end) and corpus.flac. The encoders
# and the FLAC decoder are timed on corpus.wav / corpus.flac (one file, one
# thread; opus48 on a 48 kHz copy of corpus.wav made with `sox rate -v`, so
# that no side resamples); `-j 2` against `-j 1` on the three tracks (no
# pinning).
#
# Peers and ours are interleaved: each of ROUNDS rounds runs every command
# of a case once (hyperfine -N -r 1, the order reversed every other round,
# so that a change in the machine's load falls on both sides), and the
# table gives the median over the rounds. Before the rounds every command
# runs once under /usr/bin/time (the warm-up), which gives its peak
# resident memory. Outputs go to a RAM disk when /dev/shm exists.
# Needs hyperfine, taskset, /usr/bin/time, lame, oggenc, opusenc, flac,
# ffmpeg (with libmp3lame and libopus), sox and cargo.
set -eu
DIR=${1:-corpus}
ROUNDS=${ROUNDS:-5}
CASES=${CASES:-"mp3v2 mp3cbr vorbis opus opus48 flacdec jobs"}
for tool in hyperfine taskset lame oggenc opusenc flac ffmpeg sox cargo; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }
IN="$DIR/corpus.wav"
FL="$DIR/corpus.flac"
[ -s "$IN" ] && [ -s "$FL" ] ||
  { echo "no corpus in $DIR (see shared/bench/make-corpus.sh)" >&2; exit 1; }
TRACKS=""
for f in "$DIR"/*.wav; do
  case "$(basename "$f")" in corpus*) ;; *) TRACKS="$TRACKS $f" ;; esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q --release --bin aj --manifest-path "$ROOT/Cargo.toml"
TARGET=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
AJ="$TARGET/release/aj"
if [ -d /dev/shm ]; then OUT=$(mktemp -d /dev/shm/ajcodecs.XXXXXX); else OUT=$(mktemp -d); fi
trap 'rm -rf "$OUT"' EXIT
P1="taskset -c 0"
SECS=$(awk -v b="$(stat -c %s "$IN")" 'BEGIN { printf "%.1f", (b - 44) / 176400 }')

# One case: the file $OUT/cmds holds "name<TAB>command" lines. Prints
# "name median_s peak_kib" lines into $OUT/res.
race() {
  : >"$OUT/times"
  : >"$OUT/res"
  while IFS="	" read -r name cmd; do
    # shellcheck disable=SC2086 # the command is split into words on purpose
    /usr/bin/time -f %M -o "$OUT/rss" $cmd >/dev/null 2>&1 ||
      { echo "failed: $cmd" >&2; exit 1; }
    echo "$name $(tail -n 1 "$OUT/rss")" >>"$OUT/rsslist"
  done <"$OUT/cmds"
  r=1
  while [ "$r" -le "$ROUNDS" ]; do
    if [ $((r % 2)) -eq 1 ]; then cat "$OUT/cmds"; else tac "$OUT/cmds"; fi >"$OUT/order"
    set --
    while IFS="	" read -r name cmd; do set -- "$@" -n "$name" "$cmd"; done <"$OUT/order"
    hyperfine -N -r 1 --export-csv "$OUT/t.csv" "$@" >/dev/null 2>&1 ||
      { echo "hyperfine failed on: $*" >&2; exit 1; }
    awk -F, 'NR > 1 { print $1, $2 }' "$OUT/t.csv" >>"$OUT/times"
    r=$((r + 1))
  done
  while IFS="	" read -r name cmd; do
    med=$(awk -v n="$name" '$1 == n { print $2 }' "$OUT/times" | sort -g |
      awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    rss=$(awk -v n="$name" '$1 == n { k = $2 } END { print k }' "$OUT/rsslist")
    echo "$name $med $rss" >>"$OUT/res"
  done <"$OUT/cmds"
}
t() { awk -v n="$1" '$1 == n { print $2 }' "$OUT/res"; }
m() { awk -v n="$1" '$1 == n { printf "%.1f", $3 / 1024 }' "$OUT/res"; }
size() { stat -c %s "$1"; }
cmd() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/cmds"; }
: >"$OUT/rsslist"

echo "input: $IN ($SECS s), $FL; rounds: $ROUNDS; $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "lame: $(lame --version | head -n 1)"
echo "oggenc: $(oggenc --version)"
echo "opusenc: $(opusenc --version | head -n 1)"
echo "flac: $(flac --version)"
echo "ffmpeg: $(ffmpeg -version | head -n 1)"
echo "aj: $("$AJ" --version)"

ENC_DONE=""
encoders() {
  [ -n "$ENC_DONE" ] && return 0
  ENC_DONE=1
  echo
  echo "One thread, one file (corpus.wav): encoding"
  echo
  echo "| case | peer | peer s | aj s | speed (peer / aj) | peer bytes | aj bytes | aj MiB peak |"
  echo "|---|---|---|---|---|---|---|---|"
}
row() { # case peer_name peer_label peer_file aj_name aj_file
  awk -v c="$1" -v p="$3" -v tp="$(t "$2")" -v ta="$(t "$5")" \
    -v sp="$(size "$4")" -v sa="$(size "$6")" -v m="$(m "$5")" 'BEGIN {
    printf "| %s | %s | %.3f | %.3f | %.3fx | %d | %d | %s |\n", c, p, tp, ta, tp / ta, sp, sa, m }'
}

for c in $CASES; do
  : >"$OUT/cmds"
  case $c in
  mp3v2)
    mkdir -p "$OUT/v2"
    cmd lame "$P1 lame -V 2 --quiet $IN $OUT/l.mp3"
    cmd ffmpeg "$P1 ffmpeg -nostdin -v error -threads 1 -y -i $IN -c:a libmp3lame -q:a 2 $OUT/f.mp3"
    cmd aj "$P1 $AJ convert $IN -f mp3 -q 2 -j 1 --overwrite -o $OUT/v2"
    race
    encoders
    row "MP3 VBR V2" lame "lame -V 2" "$OUT/l.mp3" aj "$OUT/v2/corpus.mp3"
    row "MP3 VBR V2" ffmpeg "ffmpeg libmp3lame -q:a 2" "$OUT/f.mp3" aj "$OUT/v2/corpus.mp3"
    ;;
  mp3cbr)
    mkdir -p "$OUT/cbr"
    cmd lame "$P1 lame -b 320 --quiet $IN $OUT/l320.mp3"
    cmd aj "$P1 $AJ convert $IN -f mp3 -b 320 -j 1 --overwrite -o $OUT/cbr"
    race
    encoders
    row "MP3 CBR 320" lame "lame -b 320" "$OUT/l320.mp3" aj "$OUT/cbr/corpus.mp3"
    ;;
  vorbis)
    mkdir -p "$OUT/ogg"
    cmd oggenc "$P1 oggenc -Q -q 5 -o $OUT/o.ogg $IN"
    cmd aj "$P1 $AJ convert $IN -f ogg -q 5 -j 1 --overwrite -o $OUT/ogg"
    race
    encoders
    row "Vorbis q5" oggenc "oggenc -q 5" "$OUT/o.ogg" aj "$OUT/ogg/corpus.ogg"
    ;;
  opus)
    mkdir -p "$OUT/opus"
    cmd opusenc "$P1 opusenc --quiet --bitrate 128 $IN $OUT/o.opus"
    cmd ffmpeg "$P1 ffmpeg -nostdin -v error -threads 1 -y -i $IN -c:a libopus -b:a 128k $OUT/f.opus"
    cmd aj "$P1 $AJ convert $IN -f opus -b 128 -j 1 --overwrite -o $OUT/opus"
    race
    encoders
    row "Opus 128" opusenc "opusenc --bitrate 128" "$OUT/o.opus" aj "$OUT/opus/corpus.opus"
    row "Opus 128" ffmpeg "ffmpeg libopus -b:a 128k" "$OUT/f.opus" aj "$OUT/opus/corpus.opus"
    ;;
  opus48)
    # Opus codes at 48 kHz: from 44.1 kHz every side resamples first (opusenc
    # with the Speex resampler, ffmpeg with swresample, ours with aj-dsp's).
    # From 48 kHz nobody does, and only the libopus encoders are compared.
    I48="$OUT/corpus-48k.wav"
    [ -s "$I48" ] || sox -V1 "$IN" "$I48" rate -v 48000
    mkdir -p "$OUT/opus48"
    cmd opusenc "$P1 opusenc --quiet --bitrate 128 $I48 $OUT/o48.opus"
    cmd ffmpeg "$P1 ffmpeg -nostdin -v error -threads 1 -y -i $I48 -c:a libopus -b:a 128k $OUT/f48.opus"
    cmd aj "$P1 $AJ convert $I48 -f opus -b 128 -j 1 --overwrite -o $OUT/opus48"
    race
    encoders
    row "Opus 128, 48 kHz input" opusenc "opusenc --bitrate 128" "$OUT/o48.opus" aj "$OUT/opus48/corpus-48k.opus"
    row "Opus 128, 48 kHz input" ffmpeg "ffmpeg libopus -b:a 128k" "$OUT/f48.opus" aj "$OUT/opus48/corpus-48k.opus"
    ;;
  flacdec)
    mkdir -p "$OUT/dv" "$OUT/dn"
    cmd flac "$P1 flac -d -f -s -o $OUT/x.wav $FL"
    cmd ffmpeg "$P1 ffmpeg -nostdin -v error -threads 1 -y -i $FL $OUT/f.wav"
    cmd aj "$P1 $AJ convert $FL -f wav -j 1 --overwrite -o $OUT/dv"
    cmd ajnv "$P1 $AJ convert $FL -f wav -j 1 --no-verify --overwrite -o $OUT/dn"
    race
    # Our WAVs hold the same samples as flac's (headers differ: ours
    # reserves a JUNK chunk for RF64).
    sox_ok=yes
    for f in "$OUT/dv/corpus.wav" "$OUT/dn/corpus.wav"; do
      d=$(sox -m -v 1 "$f" -v -1 "$OUT/x.wav" -n stat 2>&1 | awk '/Maximum amplitude/ { print $3 }')
      [ "$d" = "0.000000" ] || sox_ok="NO ($f: max difference $d)"
    done
    echo
    echo "One thread: FLAC decoding (corpus.flac to WAV, MD5 checked by all but ffmpeg; aj's samples equal flac's: $sox_ok)"
    echo
    echo "| decoder | s | speed (peer / aj) | speed (peer / aj --no-verify) | MiB peak |"
    echo "|---|---|---|---|---|"
    ta=$(t aj)
    tn=$(t ajnv)
    for n in flac ffmpeg; do
      awk -v n="$n" -v tp="$(t $n)" -v ta="$ta" -v tn="$tn" -v m="$(m $n)" 'BEGIN {
        printf "| %s | %.3f | %.3fx | %.3fx | %s |\n", n, tp, tp / ta, tp / tn, m }'
    done
    awk -v ta="$ta" -v tn="$tn" -v ma="$(m aj)" -v mn="$(m ajnv)" 'BEGIN {
      printf "| aj | %.3f | | | %s |\n| aj --no-verify | %.3f | | | %s |\n", ta, ma, tn, mn }'
    ;;
  jobs)
    mkdir -p "$OUT/j1f" "$OUT/j2f" "$OUT/j1n" "$OUT/j2n" "$OUT/j1m" "$OUT/j2m"
    cmd flac1 "$AJ convert$TRACKS -f flac -j 1 --overwrite -o $OUT/j1f"
    cmd flac2 "$AJ convert$TRACKS -f flac -j 2 --overwrite -o $OUT/j2f"
    cmd flacnv1 "$AJ convert$TRACKS -f flac -j 1 --no-verify --overwrite -o $OUT/j1n"
    cmd flacnv2 "$AJ convert$TRACKS -f flac -j 2 --no-verify --overwrite -o $OUT/j2n"
    cmd mp31 "$AJ convert$TRACKS -f mp3 -q 2 -j 1 --overwrite -o $OUT/j1m"
    cmd mp32 "$AJ convert$TRACKS -f mp3 -q 2 -j 2 --overwrite -o $OUT/j2m"
    race
    same=yes
    for f in "$OUT"/j1f/*.flac; do
      cmp -s "$f" "$OUT/j2f/$(basename "$f")" || same=NO
    done
    # The best -j 2 could do if each file were converted on one thread
    # (MP3: LAME encodes a file on one thread): the files handed out in
    # order to whichever worker is free first (the engine's schedule),
    # times taken as proportional to the sizes. FLAC goes past it: a
    # worker with no file left lends its thread to the encoders running.
    # shellcheck disable=SC2086 # TRACKS is a list of paths
    bound=$(stat -c %s $TRACKS | awk '{ s += $1; if (w1 <= w2) w1 += $1; else w2 += $1 }
      END { printf "%.2f", s / (w1 > w2 ? w1 : w2) }')
    echo
    echo "The three tracks in one run: -j 2 beside -j 1 (not pinned; $(nproc) cores; one file per"
    echo "thread, as MP3 runs, bounds the speed-up to ${bound}x for these track lengths)"
    echo
    echo "| case | -j 1 s | -j 2 s | speed-up | -j 1 MiB peak | -j 2 MiB peak |"
    echo "|---|---|---|---|---|---|"
    for k in flac flacnv mp3; do
      case $k in
      flac) label="FLAC level 5 (verified; same bytes: $same)" ;;
      flacnv) label="FLAC level 5, --no-verify" ;;
      mp3) label="MP3 V2" ;;
      esac
      awk -v l="$label" -v a="$(t ${k}1)" -v b="$(t ${k}2)" -v ma="$(m ${k}1)" -v mb="$(m ${k}2)" 'BEGIN {
        printf "| %s | %.3f | %.3f | %.2fx | %s | %s |\n", l, a, b, a / b, ma, mb }'
    done
    ;;
  *)
    echo "unknown case $c (mp3v2 mp3cbr vorbis opus opus48 flacdec jobs)" >&2
    exit 2
    ;;
  esac
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
