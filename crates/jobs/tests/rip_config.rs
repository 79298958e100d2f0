//! A rip run with the default context (as the daemon runs it) whose
//! configuration file cannot be read says so instead of silently ripping
//! without the remembered offsets. Its own test binary: it sets AJ_CONFIG.

#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use aj_core::CancelToken;
use aj_jobs::rip::{self, RipContext, RipSpec};
use aj_jobs::Event;

#[test]
fn an_unreadable_configuration_is_a_warning_of_the_rip() {
    let t = tempfile::tempdir().unwrap();
    // A folder where the file should be: it exists but cannot be read.
    let config = t.path().join("config.toml");
    std::fs::create_dir(&config).unwrap();
    std::env::set_var("AJ_CONFIG", &config);
    let ctx = RipContext::default();
    let warning = ctx.config_warning.clone().expect("a warning");
    assert!(
        warning.contains("config.toml") && warning.contains("offsets"),
        "{warning}"
    );

    let mut spec = RipSpec::new(Some("demo".into()), t.path().join("out"));
    spec.offline = true;
    spec.offset = Some(0);
    let events = Mutex::new(Vec::new());
    let summary = rip::run(&spec, &ctx, &CancelToken::new(), &|e| {
        events.lock().unwrap().push(e)
    });
    assert_eq!(summary.failed, 0, "{summary:?}");
    let events = events.into_inner().unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Warning { message } if *message == warning)),
        "no warning among {} events",
        events.len()
    );
}
