//! `aj convert`: flags → [`ConvertSpec`] → engine → progress.

use aj_codec::encode::{EncoderOptions, MP3_BITRATES};
use aj_codec::Format;
use aj_core::CancelToken;
use aj_jobs::convert::{DspOptions, OnExists};
use aj_jobs::{ConvertSpec, JobSpec};

use crate::cli::{ConvertArgs, DspArgs, EncoderArgs};
use crate::progress::Reporter;
use crate::Outcome;

pub fn run(args: ConvertArgs) -> anyhow::Result<Outcome> {
    let json = args.json;
    let remote = args.remote.clone();
    let spec = match validate(args) {
        Ok(s) => s,
        Err(msg) => return Ok(Outcome::Usage(msg)),
    };
    if remote.server.is_some() {
        return run_remote(&remote, spec, json);
    }
    let cancel = CancelToken::new();
    install_interrupt_handler(&cancel);
    // Names from a template that collide stop the run before any work.
    if spec.name.is_some() {
        if let Err(e @ aj_jobs::convert::PlanError::Collisions(_)) =
            aj_jobs::convert::plan_checked(&spec, &cancel)
        {
            return Ok(Outcome::Usage(e.to_string()));
        }
    }
    let reporter = Reporter::new(json);
    let summary = aj_jobs::run(&JobSpec::Convert(spec), &cancel, &|e| reporter.event(e));
    reporter.finish();
    Ok(if summary.success() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// `--server`: the same spec, its paths made absolute, run by the daemon.
fn run_remote(
    remote: &crate::cli::ServerArgs,
    mut spec: ConvertSpec,
    json: bool,
) -> anyhow::Result<Outcome> {
    use crate::cmd::jobs::absolute;
    spec.inputs = spec
        .inputs
        .iter()
        .map(|p| absolute(p))
        .collect::<anyhow::Result<_>>()?;
    spec.output_dir = spec.output_dir.as_deref().map(absolute).transpose()?;
    crate::cmd::jobs::submit_and_follow(remote, &JobSpec::Convert(spec), json)
}

/// Stage two of flag parsing: checks ranges and combinations, builds the spec.
fn validate(args: ConvertArgs) -> Result<ConvertSpec, String> {
    let format: Format = args.format.parse()?;
    let encoder = encoder_options(format, &args.encoder)?;
    if args.jobs == Some(0) {
        return Err("--jobs must be at least 1".into());
    }
    if let Some(dir) = &args.output_dir {
        if dir.exists() && !dir.is_dir() {
            return Err(format!("{} is not a folder", dir.display()));
        }
    }
    let dsp = dsp_options(format, &args.dsp)?;
    let naming = naming_options(format, &args)?;
    let join = join_options(format, &args)?;
    let gaps = args
        .gaps
        .as_deref()
        .map(str::parse::<aj_jobs::rip::Gaps>)
        .transpose()?
        .unwrap_or_default();
    Ok(ConvertSpec {
        inputs: args.inputs,
        format,
        output_dir: args.output_dir,
        encoder,
        overwrite: naming.on_exists == OnExists::Overwrite,
        verify: !args.no_verify,
        threads: args.jobs.unwrap_or(0),
        replaygain: args.replaygain,
        dsp,
        name: naming.name,
        safe_names: naming.safe_names,
        keep_tree: naming.keep_tree,
        on_exists: naming.on_exists,
        delete_source: naming.delete_source,
        join,
        split: !args.no_split,
        gaps,
    })
}

/// The naming and safety flags (`--name`, `--safe-names`, `--keep-tree`,
/// `--on-exists`, `--delete-source`), checked: a spec holding only them.
fn naming_options(format: Format, args: &ConvertArgs) -> Result<ConvertSpec, String> {
    let mut spec = ConvertSpec::new(Vec::new(), format);
    if let Some(name) = &args.name {
        aj_jobs::naming::Template::parse(name).map_err(|e| e.to_string())?;
        spec.name = Some(name.clone());
    }
    if let Some(safe) = &args.safe_names {
        spec.safe_names = safe.parse()?;
    }
    spec.keep_tree = args.keep_tree;
    if let Some(policy) = &args.on_exists {
        spec.on_exists = policy.parse()?;
    }
    if args.overwrite {
        spec.on_exists = OnExists::Overwrite;
    }
    spec.delete_source = args.delete_source;
    Ok(spec)
}

/// The join flags (`--join`, `--image-name`, `--keep-order`), checked.
fn join_options(
    format: Format,
    args: &ConvertArgs,
) -> Result<Option<aj_jobs::join::JoinOptions>, String> {
    if !args.join {
        return Ok(None);
    }
    if let Some(name) = &args.image_name {
        aj_jobs::naming::Template::parse(name).map_err(|e| e.to_string())?;
    }
    if args.name.is_some() {
        return Err(
            "--name names converted files; with --join, name the image with --image-name".into(),
        );
    }
    if args.delete_source && (!format.is_lossless() || args.no_verify) {
        return Err(
            "--delete-source with --join deletes the tracks only once the image is verified sample for sample: use a lossless format (wav, aiff, flac) without --no-verify".into(),
        );
    }
    Ok(Some(aj_jobs::join::JoinOptions {
        name: args.image_name.clone(),
        keep_order: args.keep_order,
    }))
}

/// The DSP flags shared by `aj convert` and `aj sync` (`--rate`, `--bits`,
/// `--channels`, `--gain`, `--apply-replaygain`), parsed and checked
/// against the format.
pub(crate) fn dsp_options(format: Format, args: &DspArgs) -> Result<DspOptions, String> {
    let mut dsp = DspOptions {
        rate: args.rate,
        channels: args.channels,
        gain_db: args.gain,
        ..DspOptions::default()
    };
    match args.bits.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => {}
        Some("float" | "f32" | "32f") => dsp.float = true,
        Some(n) => {
            dsp.bits = Some(
                n.parse()
                    .map_err(|_| format!("--bits {n} is not one of 8, 16, 24, 32 or float"))?,
            )
        }
    }
    dsp.apply_replaygain = args
        .apply_replaygain
        .as_deref()
        .map(str::parse)
        .transpose()?;
    dsp.check(format)?;
    Ok(dsp)
}

/// Checks the encoder flags shared by `aj convert`, `aj sync` and `aj rip`
/// against the format and builds the encoder options.
pub(crate) fn encoder_options(
    format: Format,
    args: &EncoderArgs,
) -> Result<EncoderOptions, String> {
    let EncoderArgs {
        level,
        quality,
        bitrate,
        abr,
    } = *args;
    if let Some(level) = level {
        if format != Format::Flac {
            return Err(format!("--level applies to FLAC only, not {format}"));
        }
        if level > 8 {
            return Err(format!("--level {level} is out of range (0 to 8)"));
        }
    }
    if let Some(q) = quality {
        let (lo, hi) = match format {
            Format::Mp3 => (0.0, 9.0),
            Format::Ogg => (-1.0, 10.0),
            other => {
                return Err(format!(
                    "--quality applies to MP3 and Ogg Vorbis, not {other}"
                ))
            }
        };
        if !(lo..=hi).contains(&q) {
            return Err(format!(
                "--quality {q} is out of range for {format} ({lo} to {hi})"
            ));
        }
        if bitrate.is_some() {
            return Err("give --quality (VBR) or --bitrate, not both".into());
        }
    }
    if let Some(b) = bitrate {
        let (lo, hi) = match format {
            Format::Mp3 => (8, 320),
            Format::Opus => (6, 510),
            Format::Ogg => (32, 500),
            other => {
                return Err(format!(
                    "--bitrate applies to MP3, Ogg Vorbis and Opus, not {other}"
                ))
            }
        };
        if !(lo..=hi).contains(&b) {
            return Err(format!(
                "--bitrate {b} is out of range for {format} ({lo} to {hi} kb/s)"
            ));
        }
        if format == Format::Mp3 && !MP3_BITRATES.contains(&b) {
            let list: Vec<String> = MP3_BITRATES.iter().map(u32::to_string).collect();
            return Err(format!(
                "--bitrate {b} is not an MP3 bitrate (one of {})",
                list.join(", ")
            ));
        }
    }
    if let Some(b) = abr {
        if format != Format::Mp3 {
            return Err(format!("--abr applies to MP3 only, not {format}"));
        }
        if !(8..=320).contains(&b) {
            return Err(format!("--abr {b} is out of range (8 to 320 kb/s)"));
        }
    }
    Ok(EncoderOptions {
        level,
        quality,
        bitrate: bitrate.or(abr),
        abr: abr.is_some(),
        threads: None,
        budget: None,
    })
}

/// First Ctrl-C (or SIGTERM): stop cooperatively, removing partial outputs.
/// Second: remove the temporary outputs and leave at once.
pub(crate) fn install_interrupt_handler(cancel: &CancelToken) {
    let cancel = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            aj_codec::output::remove_all_pending();
            std::process::exit(130);
        }
        eprintln!("aj: interrupted; stopping (press Ctrl-C again to quit at once)");
        cancel.cancel();
    });
}
