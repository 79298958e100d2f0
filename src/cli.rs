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
    /// offset=SAMPLES, overread=yes|no, cache=SECTORS, bad=LBA-LBA, flaky=RATE, corrupt=RATE,
    /// c2=yes|no, jitter=SAMPLES, vanish=N (the drive goes away after N reads), speed=N (at most
    /// N× real time), seed=N
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
  aj rip --check-log 'out/Artist - Album.log'  was this log edited?

Secure mode reads every sector at least twice with the drive's cache defeated
and re-reads sectors that differ (or that C2 pointers flag) until a value is
seen consistently. Each track's AccurateRip v1/v2 checksums are compared with
the AccurateRip database and the whole disc with CTDB; names come from
MusicBrainz, else GnuDB, else CD-TEXT. Service addresses can be changed with
AJ_ACCURATERIP_URL, AJ_CTDB_URL, AJ_MUSICBRAINZ_URL, AJ_GNUDB_URL,
AJ_COVERART_URL or the same keys (accuraterip_url...) in the configuration file
($AJ_CONFIG, else ~/.config/audiojuggler/config.toml), which also keeps each
drive's read offset. An interrupted rip keeps its finished tracks: --resume
carries on. The log ends with a SHA-256 of its own text.

Exit status: 0 every track read without errors, 1 a track has suspicious
positions or failed, or the rip was interrupted, 2 a usage error.")]
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

    /// FLAC compression level, 0-8 [default: 5]
    #[arg(long, value_name = "0-8")]
    pub level: Option<u8>,

    /// VBR quality: MP3 V0-V9, Vorbis -1 to 10
    #[arg(short = 'q', long, value_name = "Q", allow_negative_numbers = true)]
    pub quality: Option<f32>,

    /// Bitrate in kb/s: MP3 CBR, Opus, Vorbis managed
    #[arg(short = 'b', long, value_name = "KBPS")]
    pub bitrate: Option<u32>,

    /// MP3 average bitrate (ABR) in kb/s
    #[arg(long, value_name = "KBPS", conflicts_with_all = ["bitrate", "quality"])]
    pub abr: Option<u32>,

    /// Read mode: secure (every sector read twice or more), burst (once), test-and-copy
    #[arg(long, value_name = "MODE", default_value = "secure")]
    pub mode: String,

    /// Re-reads of a sector that reads differently, before it is marked suspicious
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub retries: u32,

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

    /// Check that a rip log was not edited (its SHA-256 seal), and do nothing else
    #[arg(long, value_name = "FILE", conflicts_with = "output_dir")]
    pub check_log: Option<PathBuf>,

    /// Print events as JSON lines on stdout
    #[arg(long)]
    pub json: bool,
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

Lossless outputs (WAV, AIFF, FLAC) are decoded again after writing and compared
with the input samples; --no-verify skips that. Outputs are written to a
temporary file and renamed when complete: an interrupted conversion leaves no
partial file, and an existing file is never replaced without --overwrite.

With --replaygain, each file's loudness is measured on the decoded samples as it
is converted and its track gain written with its tags; the files converted into
one output folder in the run form an album, whose gain is written into them
once the last of them is done.

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

    /// Replace outputs that already exist
    #[arg(long)]
    pub overwrite: bool,

    /// Do not decode lossless outputs again to compare them with the input
    #[arg(long)]
    pub no_verify: bool,

    /// Threads for the whole run: files converted at once, or with fewer files than threads,
    /// FLAC frames encoded in parallel inside a file (same output bytes) [default: one per core]
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,

    /// Write ReplayGain 2.0 tags (R128_TRACK_GAIN/R128_ALBUM_GAIN in Opus): track gain
    /// measured while converting, album gain over the files converted into the same folder
    #[arg(long)]
    pub replaygain: bool,

    /// Print events as JSON lines on stdout instead of progress bars
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  aj gain *.flac                  track gain of each file
  aj gain --album disc1/*.flac    track gains, and one album gain over all the files given
  aj gain --dry-run --json x.mp3  measure only, one JSON object per file

Loudness is measured as ITU-R BS.1770-4 / EBU R128 has it (integrated, gated),
and the gain is what brings it to ReplayGain 2.0's -18 LUFS. Tags written:
REPLAYGAIN_TRACK_GAIN (\"-6.20 dB\") and REPLAYGAIN_TRACK_PEAK (\"0.988525\"), and the
ALBUM pair with --album, in FLAC, Ogg Vorbis, MP3 (ID3v2 TXXX), WAV and AIFF;
R128_TRACK_GAIN and R128_ALBUM_GAIN in Opus (RFC 7845: Q7.8 dB relative to
-23 LUFS, on top of the header's output gain), where REPLAYGAIN_* are removed.
Without --album, album tags already in a file are left as they are.

Files are changed in place, safely: the new file is written beside the old one,
flushed to disk and renamed over it; the audio data is copied unchanged.

Exit status: 0 every file was measured (and tagged), 1 a file failed (the
others are still done), 2 a usage error.")]
pub struct GainArgs {
    /// Audio files to measure and tag
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
}
