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
    /// Audio CDs: identities, table of contents, eject
    #[command(subcommand)]
    Disc(DiscCommand),
    /// CD drives on this machine
    #[command(subcommand)]
    Drive(DriveCommand),
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

/// How to name a drive: `/dev/sr0`, or the virtual drive over a disc image,
/// `image:PATH[,offset=SAMPLES][,overread=yes|no][,cache=SECTORS][,bad=LBA-LBA][,flaky=RATE][,corrupt=RATE][,c2=yes|no][,jitter=SAMPLES][,seed=N]`.
/// Without it, the first real drive.
#[derive(Debug, Args)]
pub struct DriveSpecArg {
    /// The drive: /dev/srN, or image:PATH[,options] for the virtual drive over a cue sheet,
    /// cdrdao TOC file or audio file (options: offset=SAMPLES, overread=yes|no, cache=SECTORS, bad=LBA-LBA,
    /// flaky=RATE, corrupt=RATE, c2=yes|no, jitter=SAMPLES, seed=N)
    #[arg(long, value_name = "SPEC")]
    pub drive: Option<String>,
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

Lossless outputs (WAV, AIFF, FLAC) are decoded again after writing and compared
with the input samples; --no-verify skips that. Outputs are written to a
temporary file and renamed when complete: an interrupted conversion leaves no
partial file, and an existing file is never replaced without --overwrite.

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

    /// Print events as JSON lines on stdout instead of progress bars
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
