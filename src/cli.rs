//! Raw command-line flags, as clap parses them. Validation happens in each
//! command (`cmd/`), which turns these into a job spec.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "aj",
    version,
    about = "AudioJuggler: a suite of audio utilities — converter, CD grabber, recorder and burner",
    long_about = None,
    after_help = "Run 'aj COMMAND --help' for the options of a command."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert audio files to WAV, AIFF, FLAC, MP3, Ogg Vorbis or Opus
    Convert(ConvertArgs),
    /// Keep a converted mirror of a music library: only new and changed files are converted
    Sync(SyncArgs),
    /// Show what audio files hold: format, stream, duration, tags, pictures
    Info(InfoArgs),
    /// Measure loudness (EBU R128) and write ReplayGain 2.0 tags into the files
    Gain(GainArgs),
    /// Audio CDs: identities, table of contents, eject
    #[command(subcommand)]
    Disc(DiscCommand),
    /// CD drives on this machine
    #[command(subcommand)]
    Drive(DriveCommand),
    /// Rip an audio CD: secure reading, AccurateRip and CTDB verification, tags, cue sheet, log
    Rip(RipArgs),
    /// What listens on a port (default 3643, AudioJuggler's): process, user, command line
    Port(PortArgs),
    /// Run the daemon: jobs over an HTTP API on port 3643
    Serve(ServeArgs),
    /// Jobs of a running daemon: list, show, follow, cancel, retry, their logs
    Jobs(JobsArgs),
}

#[derive(Debug, Subcommand)]
pub enum DiscCommand {
    /// Disc identities (MusicBrainz, CDDB, AccurateRip, CTDB) from a table of contents
    Id(DiscIdArgs),
    /// A disc's table of contents, indexes and pregaps, MCN, ISRCs, CD-TEXT, identities
    Info(DiscInfoArgs),
    /// Open a drive's tray
    Eject(DiscEjectArgs),
}

#[derive(Debug, Subcommand)]
pub enum DriveCommand {
    /// List the CD drives with vendor, model and capabilities
    List(DriveListArgs),
    /// Find a drive's read offset from a disc AccurateRip knows, and remember it
    Offset(DriveOffsetArgs),
    /// Measure a drive's audio cache with the disc in it, and remember it for rips
    Cache(DriveCacheArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "\
Secure ripping reads every sector twice with the drive's cache defeated: between
the two reads it reads as many other sectors as the cache holds. Many drives
report no cache, or a wrong size; the cache is then measured by timing re-reads
at growing distances (a cached sector comes back much faster than the disc
spins), which takes seconds on a real drive. This command measures it whatever
the drive reports and, with --save (or a yes at the prompt in a terminal),
remembers the size in the configuration file for this drive model, beside its
read offset: rips then use it without measuring ('aj rip --cache' overrides it).

Examples:
  aj drive cache --drive /dev/sr0 --save
  aj drive cache --drive demo,cache=1024,buffer=0,speed=40

Exit status: 0 measured, 1 the drive or disc could not be read.")]
pub struct DriveCacheArgs {
    #[command(flatten)]
    pub drive: DriveSpecArg,

    /// Remember the size found for this drive without asking
    #[arg(long)]
    pub save: bool,

    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
The offset is found as EAC does: the AccurateRip database keeps, for each
track, a checksum of its 450th sector; that sector is read with every offset
from -2940 to +2940 samples and the offsets whose checksum matches are counted
over the tracks. Use a disc many people have ripped.

Exit status: 0 an offset was found, 1 none could be found.")]
pub struct DriveOffsetArgs {
    #[command(flatten)]
    pub drive: DriveSpecArg,

    /// Find the offset (the only action for now; kept for clarity)
    #[arg(long)]
    pub find: bool,

    /// Remember the offset found for this drive without asking
    #[arg(long)]
    pub save: bool,

    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiscIdArgs {
    /// The table of contents as libdiscid writes it: "FIRST LAST LEADOUT OFFSET1 ..."
    /// (sector offsets including the 150-sector lead-in)
    #[arg(long, value_name = "TOC")]
    pub toc: String,

    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

/// How to name a drive: `/dev/sr0`; `demo`, the built-in demo disc; or the
/// virtual drive over a disc image, `image:PATH[,options]`. Without it, the
/// first real drive.
#[derive(Debug, Args)]
pub struct DriveSpecArg {
    /// The drive: /dev/srN; demo (a built-in disc); or image:PATH[,options] for the virtual drive
    /// over a cue sheet, cdrdao TOC file or audio file. demo and image: take the options
    /// offset=SAMPLES, overread=yes|no, cache=SECTORS, buffer=KIB (the cache size the drive
    /// reports, when not the real one; 0: none), bad=LBA-LBA, flaky=RATE, corrupt=RATE, c2=yes|no,
    /// jitter=SAMPLES, vanish=N (the drive goes away after N reads), speed=N (at most N× real
    /// time), stall=RATE (reads held up at random; with speed=), seed=N
    #[arg(long, value_name = "SPEC")]
    pub drive: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  aj rip --drive demo -o out                   the built-in demo disc, to FLAC
  aj rip --drive /dev/sr0 -o ~/Music/rips      a real drive
  aj rip -o rip -f mp3 -q 0 --gaps prepend     MP3 V0, gaps at the start of their track
  aj rip --drive image:disc.cue,offset=6 -o x  the virtual drive over a disc image
  aj rip --drive demo -o out --tracks 2-3      only tracks 2 and 3
  aj rip --check-log 'out/Artist - Album.log'  was this log edited by accident?

Secure mode reads every sector at least twice with the drive's cache defeated
and re-reads sectors that differ (or that C2 pointers flag) until a value is
seen consistently. Each track's AccurateRip v1/v2 checksums are compared with
the AccurateRip database and the whole disc with CTDB; names come from
MusicBrainz, else GnuDB, else CD-TEXT. Service addresses can be changed with
AJ_ACCURATERIP_URL, AJ_CTDB_URL, AJ_MUSICBRAINZ_URL, AJ_GNUDB_URL,
AJ_COVERART_URL or the same keys (accuraterip_url...) in the configuration file
($AJ_CONFIG, else ~/.config/audiojuggler/config.toml), which also keeps each
drive's read offset and cache size ('aj drive offset --find', 'aj drive
cache'). A drive that reports no cache, with none remembered, has it measured
before the rip (a few seconds). An interrupted rip keeps its finished tracks:
--resume carries on (also to add tracks to a rip made with --tracks).

--image writes one file for the disc and its cue sheet; a FLAC image also
carries the sheet, as a CUESHEET tag and a CUESHEET metadata block (as
'flac --cuesheet' writes it), so that players and 'aj convert' split it alone.
--replaygain adds ReplayGain 2.0 track tags, and album tags when every track
is ripped in one run (not with --tracks or --resume: a note says so).

A track is called accurate only when its AccurateRip checksum is in the
database AND it was read without errors: a track with suspicious positions,
or whose test and copy CRCs differ, is not accurate even when its checksum
matches (its status in --json is match_with_errors, its tag and log line say
NOT VERIFIED). Hidden track one audio is not covered by AccurateRip
(not_applicable).

The log ends with a SHA-256 of its own text: --check-log detects edits that
did not recompute the checksum (accidents, truncation), not forgery.

Exit status: 0 every track read without errors, 1 a track has suspicious
positions, differing test and copy CRCs, or failed, or the rip was
interrupted, 2 a usage error.")]
#[command(
    mut_arg("level", help("FLAC compression level, 0-8 [default: 5]")),
    mut_arg("quality", help("VBR quality: MP3 V0-V9, Vorbis -1 to 10")),
    mut_arg("bitrate", help("Bitrate in kb/s: MP3 CBR, Opus, Vorbis managed")),
    mut_arg("abr", help("MP3 average bitrate (ABR) in kb/s"))
)]
pub struct RipArgs {
    /// The drive: /dev/srN, demo (a built-in disc), or image:PATH[,options] (see 'aj disc info
    /// --help' for the options) [default: the first drive]
    #[arg(long, value_name = "SPEC")]
    pub drive: Option<String>,

    /// Folder for the tracks, cue sheet and log (created if missing)
    #[arg(
        short = 'o',
        long = "output-dir",
        value_name = "DIR",
        required_unless_present = "check_log"
    )]
    pub output_dir: Option<PathBuf>,

    /// Output format: flac (default), wav, aiff, mp3, ogg or opus
    #[arg(
        short = 'f',
        long = "format",
        value_name = "FORMAT",
        default_value = "flac"
    )]
    pub format: String,

    #[command(flatten)]
    pub encoder: EncoderArgs,

    /// Read mode: secure (every sector read twice or more), burst (once), test-and-copy
    #[arg(long, value_name = "MODE", default_value = "secure")]
    pub mode: String,

    /// Re-reads of a sector that reads differently, before it is marked suspicious
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub retries: u32,

    /// Rip only these tracks: numbers and ranges, e.g. 1-3,5 (0: hidden track one audio)
    /// [default: every track]
    #[arg(long, value_name = "LIST")]
    pub tracks: Option<String>,

    /// Read speed: a multiple of real time (8x), kB/s (1411k), or max (SET CD SPEED)
    /// [default: the drive's own]
    #[arg(long, value_name = "SPEED")]
    pub speed: Option<String>,

    /// Do not use the drive's C2 error pointers, even when it has them
    #[arg(long)]
    pub no_c2: bool,

    /// The drive's read offset in samples (AccurateRip's list) [default: remembered for the drive, else 0]
    #[arg(long, value_name = "SAMPLES", allow_negative_numbers = true)]
    pub offset: Option<i32>,

    /// Gaps between tracks: append (to the previous track, as EAC), prepend, discard
    #[arg(long, value_name = "HOW", default_value = "append")]
    pub gaps: String,

    /// One file for the whole disc with its cue sheet, instead of one per track
    #[arg(long)]
    pub image: bool,

    /// Undo pre-emphasis on tracks flagged with it
    #[arg(long)]
    pub deemphasize: bool,

    /// The MusicBrainz release to tag with, when the disc belongs to several
    #[arg(long, value_name = "MBID")]
    pub release: Option<String>,

    /// Carry on with an interrupted rip in the same folder
    #[arg(long)]
    pub resume: bool,

    /// Ask no online service (no names, no AccurateRip or CTDB verification)
    #[arg(long)]
    pub offline: bool,

    /// Do not decode lossless outputs again to compare them
    #[arg(long)]
    pub no_verify: bool,

    /// Write ReplayGain 2.0 tags (R128_* in Opus): each track's gain and peak, and the album's
    /// over the whole disc when every track is ripped in one run
    #[arg(long)]
    pub replaygain: bool,

    /// The drive's cache in sectors, used as given (0: no cache) [default: remembered for the
    /// drive ('aj drive cache --save'), else as the drive reports it, measured when it reports none]
    #[arg(long, value_name = "SECTORS")]
    pub cache: Option<u32>,

    /// Name the track files from their tags, as 'aj convert --name' does (e.g.
    /// '{albumartist}/{album} ({date:4})/{disc}{track:02} - {title}'); the cue sheet and log go
    /// beside the first track [default: 'NN - Title' in the output folder]
    #[arg(long = "name", value_name = "TEMPLATE", conflicts_with = "image")]
    pub name: Option<String>,

    /// Characters names made by --name may hold: posix or windows [default: posix]
    #[arg(long, value_name = "POLICY", requires = "name")]
    pub safe_names: Option<String>,

    /// Check a rip log's SHA-256 checksum (detects edits that did not recompute it), and do
    /// nothing else
    #[arg(long, value_name = "FILE", conflicts_with = "output_dir")]
    pub check_log: Option<PathBuf>,

    /// Print events as JSON lines on stdout
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub remote: ServerArgs,
}

/// The encoder flags of `aj convert`, `aj sync` and `aj rip` (checked
/// against the format by `cmd::convert::encoder_options`). The help texts
/// are `aj convert`'s; `aj sync` and `aj rip` give some shorter ones.
#[derive(Debug, Clone, Default, Args)]
pub struct EncoderArgs {
    /// FLAC compression level, 0 (fastest) to 8 (smallest) [default: 5]
    #[arg(long, value_name = "0-8")]
    pub level: Option<u8>,

    /// VBR quality: MP3 V0 (best) to V9 [default: 2]; Vorbis -1 to 10 [default: 5]
    #[arg(short = 'q', long, value_name = "Q", allow_negative_numbers = true)]
    pub quality: Option<f32>,

    /// Bitrate in kb/s: MP3 CBR (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160,
    /// 192, 224, 256, 320; at most 160 below 32 kHz), Opus (6-510) [default: 128], Vorbis
    /// managed (32-500)
    #[arg(short = 'b', long, value_name = "KBPS")]
    pub bitrate: Option<u32>,

    /// MP3 average bitrate (ABR) in kb/s, 8-320: VBR steered to a mean rate
    #[arg(long, value_name = "KBPS", conflicts_with_all = ["bitrate", "quality"])]
    pub abr: Option<u32>,
}

/// The DSP flags of `aj convert` and `aj sync` (parsed and checked by
/// `cmd::convert::dsp_options`). The help texts are `aj convert`'s; `aj
/// sync` gives some shorter ones.
#[derive(Debug, Clone, Default, Args)]
pub struct DspArgs {
    /// Output sample rate in Hz: high-quality resampling (MP3: 8000-48000; Opus: 8000, 12000,
    /// 16000, 24000 or 48000)
    #[arg(long, value_name = "HZ")]
    pub rate: Option<u32>,

    /// Output bit depth of WAV, AIFF and FLAC: 8, 16, 24, 32, or float (WAV); TPDF dither
    /// whenever the depth drops
    #[arg(long, value_name = "N")]
    pub bits: Option<String>,

    /// Output channels: 1 (mono) or 2 (stereo); 5.1 and 7.1 are downmixed as ITU-R BS.775
    /// has it (centre and surrounds at -3 dB, LFE dropped)
    #[arg(long, value_name = "1|2")]
    pub channels: Option<u16>,

    /// Change the level by DB decibels; lowered when the peak would pass 0 dBFS
    #[arg(long, value_name = "DB", allow_negative_numbers = true)]
    pub gain: Option<f64>,

    /// Apply the source's ReplayGain, track or album (from its tags, else measured), lowered
    /// when the peak would pass 0 dBFS
    #[arg(long, value_name = "MODE")]
    pub apply_replaygain: Option<String>,
}

/// A help text for a flag of a shared group, for `#[command(mut_arg(ID,
/// help(TEXT)))]`: where a command words the flag its own way.
fn help(text: &'static str) -> impl FnOnce(clap::Arg) -> clap::Arg {
    move |arg| arg.help(text)
}

/// `--server` and `--token-file` of `aj convert` and `aj rip`: run the job
/// on a daemon instead of here.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Run the job on the daemon at URL (aj serve) instead of here, and follow it; paths are
    /// made absolute and must lie inside the daemon's library folders
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,

    /// File holding the daemon's bearer token; without it, the token itself is taken from
    /// $AJ_TOKEN (when set)
    #[arg(long, value_name = "FILE", requires = "server")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "\
Examples:
  aj jobs                               every job of the daemon on 127.0.0.1:3643
  aj jobs --state running --json        running jobs, one JSON object per line
  aj jobs 12 --follow                   follow job 12 until it ends
  aj jobs cancel 12                     cancel it
  aj jobs log 12                        its engine events, as JSON lines
  aj jobs delete 12                     forget it, with its log (not while it runs)
  aj jobs --server http://nas:3643 --token-file ~/.aj-token
  AJ_TOKEN=\"$(cat ~/.aj-token)\" aj jobs --server http://nas:3643

The daemon is $AJ_SERVER unless --server is given, else http://127.0.0.1:3643.
The token is read from the file --token-file names; without that flag,
$AJ_TOKEN holds the token itself (not a file name). --follow reads the
daemon's event feed (and reconnects where it left off) and shows the job's
progress as a local run would: bars in a terminal, plain lines otherwise, the
engine's events as JSON lines with --json.

Exit status: 0 done (with --follow: the job ended done), 1 the job failed, was
cancelled or interrupted, or the daemon could not be asked, 2 a usage error."
)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub action: Option<JobsAction>,

    /// A job to show [default: list the jobs]
    #[arg(value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
    pub id: Option<i64>,

    /// Follow the job until it ends, showing its progress
    #[arg(long, requires = "id")]
    pub follow: bool,

    /// Only jobs in this state: queued, running, done, failed, cancelled, interrupted
    #[arg(long, value_name = "STATE", conflicts_with = "id")]
    pub state: Option<String>,

    /// The daemon's URL [default: $AJ_SERVER, else http://127.0.0.1:3643]
    #[arg(long, value_name = "URL", global = true)]
    pub server: Option<String>,

    /// File holding the daemon's bearer token; without it, the token itself is taken from
    /// $AJ_TOKEN (when set)
    #[arg(long, value_name = "FILE", global = true)]
    pub token_file: Option<PathBuf>,

    /// JSON: jobs one object per line; events as JSON lines
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Cancel a job (a running one stops cleanly, removing partial outputs)
    Cancel(JobIdArg),
    /// Queue a failed, cancelled or interrupted job again
    Retry(JobIdArg),
    /// A job's engine events, one JSON object per line (as a local --json run prints them)
    Log(JobIdArg),
    /// Delete a job that is not running, with its log (its output files stay)
    Delete(JobIdArg),
}

#[derive(Debug, Args)]
pub struct JobIdArg {
    /// The job's id
    #[arg(value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct DiscInfoArgs {
    #[command(flatten)]
    pub drive: DriveSpecArg,

    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiscEjectArgs {
    #[command(flatten)]
    pub drive: DriveSpecArg,
}

#[derive(Debug, Args)]
pub struct DriveListArgs {
    /// Print a JSON array
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  aj convert album/ -f flac -o ~/Music/flac        every audio file under album/, tree kept
  aj convert song.wav -f mp3 --quality 0           MP3 VBR V0, beside the input
  aj convert *.flac -f opus --bitrate 96 -o opus/  Opus at 96 kb/s
  aj convert in.mp3 -f wav --json                  JSON lines on stdout
  aj convert cd/ -f opus -o opus/ --replaygain     with R128 track and album gains
  aj convert album.cue -f flac -o tracks/          an image split into tracks by its cue sheet
  aj convert --join album/ -f flac                 the tracks as one FLAC image + cue sheet

Lossless outputs (WAV, AIFF, FLAC) are decoded again after writing and compared
with the input samples; --no-verify skips that. Outputs are written to a
temporary file and renamed when complete: an interrupted conversion leaves no
partial file, and an existing file is never replaced without --overwrite
(or --on-exists overwrite).

With --replaygain, each file's loudness is measured on the decoded samples as it
is converted and its track gain written with its tags; the files converted into
one output folder in the run form an album, whose gain is written into them
once the last of them is done.

--name names outputs from tags: text outside braces is literal, / separates
folders, {a|b|\"text\"} takes the first non-empty alternative, {field:N} pads
numbers with zeros (and keeps N characters of text). Fields: any tag (title,
artist, albumartist, album, date, genre, composer, label…), track, tracktotal,
disc (empty on single-disc albums), disctotal, year, filename, format. Empty
brackets and dangling separators left by missing tags are removed. Two inputs
named to one output stop the run before anything is converted (exit 2).

--on-exists rename writes 'NAME (1).EXT', 'NAME (2).EXT'…, the name taken when
the output is complete. --delete-source deletes a source only once its output
is in place and checked (verified, or decoded again to its full length), never
for a skipped or failed file, never when the output is the source.

--join writes one image holding the inputs back to back, sample for sample,
and NAME.cue beside it (FLAC images carry the sheet in a CUESHEET tag and block too).
Order: by disc then track number when every input has one, else as given (a
folder's files in natural order); the order is printed first. All inputs must
share rate and channels (or use --rate/--channels); the depth is the highest,
or --bits. Cue times count CD frames (1/75 s): a track starting between two
frames is put at the nearest one, with a note (CD rips join and split back
exactly). --replaygain gives the image one gain: track = album = the whole.
--delete-source deletes the tracks only once the image is verified.

Cue sheets: an image (WAV, FLAC, any decodable file) with a cue sheet is split
into one file per track, sample for sample: a .cue given or found in a folder
(its FILE lines found beside it, ignoring case, or with another extension:
album.wav may be album.flac), a .cue with the image's name beside it, or a
sheet inside a FLAC (CUESHEET tag or block). The image and its sheet are one
source, converted once. Tracks are named 'NN - Title' (or by --name from their
tags: the sheet's TITLE, PERFORMER, SONGWRITER, REM GENRE/DATE/COMMENT,
CATALOG, ISRC over the image's own tags). Audio before track 1 is kept as
'00 - Hidden Track One Audio' unless it is digital silence. --gaps places the
gaps; --no-split converts such images whole. --delete-source never deletes a
split image or its cue sheet.

Exit status: 0 all converted (or skipped), 1 a file failed or the run was
interrupted, 2 a usage error.")]
pub struct ConvertArgs {
    /// Files or folders to convert (folders are searched recursively)
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Output format: wav, aiff, flac, mp3, ogg (Vorbis) or opus
    #[arg(short = 'f', long = "format", value_name = "FORMAT")]
    pub format: String,

    /// Folder for the outputs (default: beside each input)
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    #[command(flatten)]
    pub encoder: EncoderArgs,

    /// Replace outputs that already exist (the same as --on-exists overwrite)
    #[arg(long)]
    pub overwrite: bool,

    /// Name outputs from their tags, like '{albumartist|artist}/{album} ({date:4})/{disc}{track:02}
    /// - {title}' (the extension is added; see below)
    #[arg(long = "name", value_name = "TEMPLATE")]
    pub name: Option<String>,

    /// Characters names made by --name may hold: posix (/ and NUL replaced) or windows (also
    /// <>:"\|?* and control characters; CON, NUL, COM1… renamed) [default: posix]
    #[arg(long, value_name = "POLICY", requires = "name")]
    pub safe_names: Option<String>,

    /// With --name: keep each input folder's sub-folders below -o; the template names the file
    /// inside them
    #[arg(long, requires = "name")]
    pub keep_tree: bool,

    /// When an output exists: skip it, overwrite it, or rename the new one 'NAME (1).EXT'…
    /// [default: skip]
    #[arg(long, value_name = "POLICY", conflicts_with = "overwrite")]
    pub on_exists: Option<String>,

    /// Delete each source once its output is written and checked (decoded again); never a
    /// skipped or failed one, never when the output is the source itself
    #[arg(long)]
    pub delete_source: bool,

    /// Do not decode lossless outputs again to compare them with the input
    #[arg(long)]
    pub no_verify: bool,

    /// Threads for the whole run: files converted at once; threads with no file of their own
    /// (fewer files than threads, or none left) help the FLAC files still encoding, whose frames
    /// encode in parallel (same output bytes) [default: one per core]
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,

    /// Write ReplayGain 2.0 tags (R128_TRACK_GAIN/R128_ALBUM_GAIN in Opus): track gain
    /// measured while converting, album gain over the files converted into the same folder
    #[arg(long)]
    pub replaygain: bool,

    #[command(flatten)]
    pub dsp: DspArgs,

    /// Join the inputs into ONE file (an image) holding them back to back, with a cue sheet
    /// beside it (NAME.cue; in FLAC also a CUESHEET tag and block); a folder joins its audio files
    #[arg(long)]
    pub join: bool,

    /// With --join: the image's name, a template of album tags [default: '{albumartist|artist} -
    /// {album}', else the folder's name]
    #[arg(long, value_name = "TEMPLATE", requires = "join")]
    pub image_name: Option<String>,

    /// With --join: keep the order given even when the tracks have disc and track numbers
    #[arg(long, requires = "join")]
    pub keep_order: bool,

    /// Convert images that have a cue sheet (album.cue beside album.flac, a .cue given, or one
    /// embedded in a FLAC) whole instead of one file per track
    #[arg(long)]
    pub no_split: bool,

    /// Where a split image's gaps (INDEX 00 to 01) go: append (end of the previous track, as
    /// EAC), prepend (start of their own track) or discard [default: append]
    #[arg(long, value_name = "MODE")]
    pub gaps: Option<String>,

    /// Print events as JSON lines on stdout instead of progress bars
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub remote: ServerArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  aj gain *.flac                  track gain of each file
  aj gain --album disc1/*.flac    track gains, and one album gain over all the files given
  aj gain --dry-run --json x.mp3  measure only, one JSON object per file
  aj gain --album Music/          every album folder of a library, one album per folder
  aj gain --album Music/ --server http://nas:3643   the same, run by the daemon

Loudness is measured as ITU-R BS.1770-4 / EBU R128 has it (integrated, gated),
and the gain is what brings it to ReplayGain 2.0's -18 LUFS. Tags written:
REPLAYGAIN_TRACK_GAIN (\"-6.20 dB\") and REPLAYGAIN_TRACK_PEAK (\"0.988525\"), and the
ALBUM pair with --album, in FLAC, Ogg Vorbis, MP3 (ID3v2 TXXX), WAV and AIFF;
R128_TRACK_GAIN and R128_ALBUM_GAIN in Opus (RFC 7845: Q7.8 dB relative to
-23 LUFS, on top of the header's output gain), where REPLAYGAIN_* are removed.
Without --album, album tags already in a file are left as they are.

A folder stands for the WAV, AIFF, FLAC, MP3, Ogg Vorbis and Opus files in it
and its sub-folders (hidden ones left out). With --album, the files named one
by one form one album; the files found in folders form one album per folder.

Files are changed in place, safely: the new file is written beside the old one,
flushed to disk and renamed over it; the audio data is copied unchanged.

Exit status: 0 every file was measured (and tagged), 1 a file failed (the
others are still done), 2 a usage error.")]
pub struct GainArgs {
    /// Audio files to measure and tag, or folders of them
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The files given form one album: also write album gain and peak
    #[arg(short = 'a', long)]
    pub album: bool,

    /// Peak tags hold the true peak (BS.1770-4 Annex 2, oversampled) instead of the sample peak
    #[arg(long)]
    pub true_peak: bool,

    /// Measure and print only; change no file
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// One JSON object per file on stdout, then one for the album
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub remote: ServerArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  aj info song.flac
  aj info --json *.mp3 | jq .duration_seconds

Exit status: 0 every file was read, 1 a file could not be read.")]
pub struct InfoArgs {
    /// Audio files to describe
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// One JSON object per file, one per line, on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  aj port                 who holds 3643, AudioJuggler's port
  aj port 80 443 --json   several ports, one JSON array

TCP sockets in the listening state and bound UDP sockets are shown, IPv4 and
IPv6, with the processes that hold them. Other users' processes can be named
only with the privilege to inspect them.

Exit status: 0 the ports were looked up (whether anything listens or not),
1 the system's socket tables could not be read.")]
pub struct PortArgs {
    /// Ports to look up [default: 3643]
    #[arg(value_name = "PORT")]
    pub ports: Vec<u16>,

    /// Print a JSON array, one object per port
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  aj serve --library ~/Music                       on 127.0.0.1:3643, no token
  aj serve --listen 0.0.0.0 --library /srv/music   on the LAN: a token is required

The API is under /api/v1 (jobs, their logs, server-sent events). On any address
but loopback every request needs 'Authorization: Bearer TOKEN'; without
--token-file a token is made on first start, printed once and kept (mode 0600)
in the data folder. Jobs read and write only inside the library folders.
Jobs and their events are kept in SQLite in the data folder: after a crash,
jobs that were running come back as interrupted and can be retried.
SIGTERM or Ctrl-C stops the server cleanly.")]
pub struct ServeArgs {
    /// Address to listen on: HOST, HOST:PORT or [IPv6]:PORT
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3643")]
    pub listen: String,

    /// A folder jobs may read from and write to (repeat for several)
    #[arg(long = "library", value_name = "DIR")]
    pub libraries: Vec<PathBuf>,

    /// Folder for the job store and the token [default: $XDG_DATA_HOME/audiojuggler]
    #[arg(long = "data", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// File holding the bearer token (made there when missing)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Encoders running at once over all jobs [default: one per core]
    #[arg(long, value_name = "N")]
    pub encoders: Option<usize>,

    /// A CD drive to serve: /dev/srN, demo[,options] or image:PATH[,options]
    /// (repeat for several) [default: the drives found, looked for on every request]
    #[arg(long = "drive", value_name = "SPEC")]
    pub drives: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  aj sync ~/Music /media/player/Music -f opus -b 128
  aj sync ~/Music /media/player -f mp3 -q 2 --delete --dry-run   show what would change
  aj sync ~/Music /mnt/car -f mp3 --lossy convert --art-max 600
  aj sync ~/Music /srv/flac -f flac --link                       FLAC sources hard-linked

Each run converts new and changed sources only. A source whose tags alone
changed gets its tags rewritten in the mirror (the audio bytes are left as
they are); an unchanged library converts nothing. Sources already in the
format are copied (--link: hard-linked), unless --rate/--bits/--channels/
--gain change their samples. Lossy sources (MP3, Vorbis, Opus, AAC) are
copied as they are (--lossy copy), never transcoded lossy to lossy, unless
--lossy convert; --lossy skip leaves them out. Cover images beside the music
(folder.*, cover.*, front.*, album.*: jpg, png, gif, webp, bmp) are copied
into the mirror folder.

Cue sheets: an image (WAV, FLAC, APE…) with a cue sheet (a .cue naming it, or
a sheet embedded in FLAC) becomes one mirror file per track, named and tagged
as aj convert names and tags them ('NN - Title.EXT' in the sheet's folder, or
by --name); the image and the .cue are not mirrored themselves. The sheet and
its image are one unit: editing the sheet redoes its tracks (a changed title
only rewrites tags and the name), a track gone from the sheet is removed with
--delete (kept otherwise). --gaps places the gaps; --no-split mirrors images
whole. A lossy image is split only with --lossy convert.

The state lives in the mirror, DST/.aj-sync.sqlite: an interrupted sync goes
on where it stopped, and another machine that reaches the mirror continues it
(with the library at any path). Files in the mirror that the sync did not
make are never touched. A mirror file changed by hand is made again. Changing
the format or encoder options converts everything again.

Exit status: 0 the mirror is up to date, 1 a file failed or the run was
interrupted, 2 a usage error.")]
#[command(
    mut_arg(
        "bitrate",
        help("Bitrate in kb/s: MP3 CBR, Opus (6-510) [default: 128], Vorbis managed (32-500)")
    ),
    mut_arg("abr", help("MP3 average bitrate (ABR) in kb/s, 8-320")),
    mut_arg("rate", help("Output sample rate in Hz (resampled)")),
    mut_arg(
        "bits",
        help("Output bit depth of WAV, AIFF and FLAC: 8, 16, 24, 32, or float (WAV)")
    ),
    mut_arg("channels", help("Output channels: 1 (mono) or 2 (stereo)")),
    mut_arg(
        "apply_replaygain",
        help("Apply the source's ReplayGain, track or album")
    )
)]
pub struct SyncArgs {
    /// The library folder
    #[arg(value_name = "SRC")]
    pub source: PathBuf,

    /// The mirror folder (created when missing)
    #[arg(value_name = "DST")]
    pub mirror: PathBuf,

    /// Format of the mirror: wav, aiff, flac, mp3, ogg (Vorbis) or opus
    #[arg(short = 'f', long = "format", value_name = "FORMAT")]
    pub format: String,

    /// Sources that are already lossy: copy (as they are), convert, or skip [default: copy]
    #[arg(long, value_name = "POLICY")]
    pub lossy: Option<String>,

    /// Hard-link files that are not converted instead of copying them (copies across file
    /// systems, with a note)
    #[arg(long)]
    pub link: bool,

    /// Remove mirror files whose source is gone (and folders that become empty)
    #[arg(long)]
    pub delete: bool,

    /// Show what would be done, file by file with the reason; change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Scale embedded JPEG/PNG cover art of converted files down to fit N x N pixels
    #[arg(long, value_name = "N")]
    pub art_max: Option<u32>,

    /// Write ReplayGain 2.0 tags measured while converting (as aj convert --replaygain)
    #[arg(long)]
    pub replaygain: bool,

    /// Name mirror files from their tags, like '{albumartist|artist}/{album}/{track:02} - {title}'
    #[arg(long = "name", value_name = "TEMPLATE")]
    pub name: Option<String>,

    /// Characters names made by --name may hold: posix or windows [default: posix]
    #[arg(long, value_name = "POLICY", requires = "name")]
    pub safe_names: Option<String>,

    /// Mirror images that have a cue sheet whole instead of one file per track
    #[arg(long)]
    pub no_split: bool,

    /// Where a split image's gaps (INDEX 00 to 01) go: append (end of the previous track, as
    /// EAC), prepend (start of their own track) or discard [default: append]
    #[arg(long, value_name = "MODE", conflicts_with = "no_split")]
    pub gaps: Option<String>,

    #[command(flatten)]
    pub encoder: EncoderArgs,

    #[command(flatten)]
    pub dsp: DspArgs,

    /// Do not decode lossless outputs again to compare them with the input
    #[arg(long)]
    pub no_verify: bool,

    /// Threads for the whole run [default: one per core]
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,

    /// Print events as JSON lines on stdout instead of progress
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub remote: ServerArgs,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn shared_flags_land_in_their_groups() {
        let cli = Cli::try_parse_from([
            "aj", "sync", "lib", "mirror", "-f", "mp3", "-b", "192", "--rate", "44100", "--gain",
            "-3",
        ])
        .unwrap();
        let Command::Sync(args) = cli.command else {
            panic!("not sync")
        };
        assert_eq!(args.encoder.bitrate, Some(192));
        assert_eq!(args.dsp.rate, Some(44100));
        assert_eq!(args.dsp.gain, Some(-3.0));
        let cli = Cli::try_parse_from(["aj", "rip", "-o", "x", "-q", "-1", "--abr", "9"]);
        assert!(cli.is_err(), "--abr conflicts with --quality");
    }

    /// Each command keeps its own wording of a shared flag.
    #[test]
    fn shared_flags_keep_each_commands_help() {
        let help = |cmd: &str, id: &str| {
            let command = Cli::command();
            let sub = command.find_subcommand(cmd).unwrap();
            let arg = sub.get_arguments().find(|a| a.get_id() == id).unwrap();
            arg.get_help().map(ToString::to_string).unwrap_or_default()
        };
        assert_eq!(help("sync", "rate"), "Output sample rate in Hz (resampled)");
        assert!(help("convert", "rate").contains("high-quality resampling"));
        assert_eq!(
            help("rip", "level"),
            "FLAC compression level, 0-8 [default: 5]"
        );
        assert_eq!(help("sync", "level"), help("convert", "level"));
        assert_eq!(help("sync", "gain"), help("convert", "gain"));
    }
}
