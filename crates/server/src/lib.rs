//! AudioJuggler's daemon, `aj serve`, on TCP port 3643 — the port IANA
//! registered for AudioJuggler in 2002.
//!
//! In the data flow the daemon is a front end, like the CLI: it takes a job
//! spec ([`aj_jobs::JobSpec`]) as JSON, hands it to the same engine
//! ([`aj_jobs::run`]) on worker threads, and shows the engine's events — as
//! server-sent events instead of progress bars. Jobs, their events and the
//! event feed live in SQLite ([`store`]), so a restart loses nothing.
//!
//! [`launch`] takes a bound listener and a shutdown signal, so tests bind
//! `127.0.0.1:0`. [`port`] answers "who holds this port?" from `/proc`, for
//! `aj port` and for `aj serve` when its port is taken.
//!
//! This crate does not parse command-line flags or decide exit codes.

#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod drives;
pub mod error;
pub mod guard;
pub mod jobs;
pub mod library;
pub mod openapi;
pub mod port;
pub mod settings;
pub mod store;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::drives::Drives;
use crate::jobs::{Feed, Manager};
use crate::library::Library;
use crate::store::Store;

/// The TCP port IANA registered for AudioJuggler ("a suite of audio
/// utilities", November 2002; IANA Service Name and Transport Protocol Port
/// Number Registry, service name `audiojuggler`).
pub const DEFAULT_PORT: u16 = 3643;

/// The store's file in the data folder.
pub const STORE_FILE: &str = "aj.sqlite";

/// How long a stopping server waits for running jobs to clean up.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// What can stop the server from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    Library(String),
    #[error("data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("job store {path}: {source}")]
    Store {
        path: PathBuf,
        source: store::StoreError,
    },
    #[error("{0}")]
    Start(String),
    /// A `--drive` spec that does not parse, or a drive given twice.
    #[error("{0}")]
    Drives(String),
}

/// How the server is set up.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The only folders jobs may read from and write to.
    pub libraries: Vec<PathBuf>,
    /// Where the store lives (created when missing).
    pub data_dir: PathBuf,
    /// When set, every request must carry it as a bearer token.
    pub token: Option<String>,
    /// Encoders running at once over all jobs; 0 = one per core.
    pub max_encoders: usize,
    /// The CD drives served (`/dev/srN`, `demo[,options]`,
    /// `image:PATH[,options]`); empty: the real drives found, looked for
    /// again on every request.
    pub drives: Vec<String>,
}

/// The server's shared state.
pub struct App {
    pub store: Arc<Store>,
    pub feed: Arc<Feed>,
    pub manager: Arc<Manager>,
    pub library: Library,
    token: Option<String>,
    shutdown: watch::Sender<bool>,
}

impl App {
    /// Opens the store (recovering from a crash: running jobs become
    /// interrupted) and starts the queue with the jobs left queued.
    ///
    /// # Errors
    /// A library folder is missing; a drive spec is wrong; the data folder
    /// or store cannot be opened.
    pub fn open(config: Config) -> Result<Arc<App>, Error> {
        let library = Library::new(&config.libraries).map_err(Error::Library)?;
        let drives = Arc::new(Drives::new(&config.drives).map_err(Error::Drives)?);
        auth::create_private_dir(&config.data_dir).map_err(|source| Error::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let path = config.data_dir.join(STORE_FILE);
        let store = Arc::new(Store::open(&path).map_err(|source| Error::Store {
            path: path.clone(),
            source,
        })?);
        remove_stale_temps(&store, &library);
        let feed = Arc::new(Feed::new(Arc::clone(&store)));
        // Listeners of the feed learn of the jobs a crash cut off.
        for &id in store.recovered() {
            match store.job(id) {
                Ok(Some(job)) => feed.publish("job.state", serde_json::json!(job)),
                Ok(None) => {}
                Err(e) => eprintln!("aj serve: job {id}: {e}"),
            }
        }
        let max = if config.max_encoders > 0 {
            config.max_encoders
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        };
        let manager = Manager::start(
            Arc::clone(&store),
            Arc::clone(&feed),
            library.clone(),
            drives,
            max,
        )
        .map_err(|e| Error::Start(e.message))?;
        let (shutdown, _) = watch::channel(false);
        Ok(Arc::new(App {
            store,
            feed,
            manager,
            library,
            token: config.token,
            shutdown,
        }))
    }

    /// The token requests must carry, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Ends event streams, so that open connections can close.
    fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

/// Removes what interrupted jobs left behind: a process killed outright
/// (kill -9, power loss) runs no cleanup, so the temporary outputs it was
/// writing remain. Only names of the engine's temporary pattern beside the
/// job's own planned outputs, inside the library, are removed.
fn remove_stale_temps(store: &Store, library: &Library) {
    let jobs = match store.jobs(Some(store::JobState::Interrupted)) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("aj serve: cannot look for stale temporary files: {e}");
            return;
        }
    };
    for job in jobs {
        let Ok(spec) = serde_json::from_value::<aj_jobs::JobSpec>(job.spec.clone()) else {
            continue;
        };
        for path in library.remove_stale_temps(&spec) {
            eprintln!(
                "aj serve: job {}: removed the stale temporary file {}",
                job.id,
                path.display()
            );
        }
        remove_empty_job_dirs(store, library, job.id);
    }
}

/// Removes the folders an interrupted job noted it would make
/// ([`Store::add_job_dirs`]) that are still empty, deepest first, inside
/// the library only; a folder that holds anything is left.
fn remove_empty_job_dirs(store: &Store, library: &Library, id: i64) {
    let mut dirs = match store.job_dirs(id) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("aj serve: job {id}: cannot read the folders it made: {e}");
            return;
        }
    };
    if dirs.is_empty() {
        return;
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in dirs {
        let Ok(real) = dir.canonicalize() else {
            continue;
        };
        if !library.contains(&real) || library.roots().contains(&real) {
            continue;
        }
        // remove_dir removes empty folders only.
        if std::fs::remove_dir(&real).is_ok() {
            eprintln!(
                "aj serve: job {id}: removed the empty folder {} it had made",
                real.display()
            );
        }
    }
    if let Err(e) = store.clear_job_dirs(id) {
        eprintln!("aj serve: job {id}: {e}");
    }
}

/// Serves `app` on `listener` until `shutdown` completes; then stops taking
/// requests, ends event streams, and lets running jobs stop cleanly (they
/// end `interrupted`, to be retried after the next start).
///
/// # Errors
/// The listener fails.
pub async fn launch(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = guard::Guard::for_listener(listener.local_addr()?);
    let router = api::router(Arc::clone(&app), guard);
    let stopping = {
        let app = Arc::clone(&app);
        async move {
            shutdown.await;
            app.begin_shutdown();
        }
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(stopping)
        .await?;
    let manager = Arc::clone(&app.manager);
    tokio::task::spawn_blocking(move || manager.shutdown(STOP_WAIT))
        .await
        .map_err(std::io::Error::other)?;
    Ok(())
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    // Jobs run on their own threads: the async side needs few.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("aj-serve")
        .enable_all()
        .build()
}

/// Serves until SIGTERM or Ctrl-C (SIGINT), then stops gracefully.
///
/// # Errors
/// The runtime cannot start or the listener fails.
pub fn run_until_signal(listener: std::net::TcpListener, app: Arc<App>) -> std::io::Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        launch(listener, app, signal()).await
    })
}

/// Completes on SIGTERM or Ctrl-C.
async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => eprintln!("aj serve: interrupted, stopping"),
        _ = term => eprintln!("aj serve: terminated, stopping"),
    }
}

/// A server running on its own thread (tests, embedding).
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Starts `app` on `listener` in a thread of its own.
    ///
    /// # Errors
    /// The listener's address cannot be read or the thread cannot start.
    pub fn start(listener: std::net::TcpListener, app: Arc<App>) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("aj-serve".into())
            .spawn(move || {
                runtime()?.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    launch(listener, app, async {
                        let _ = stopped.await;
                    })
                    .await
                })
            })?;
        Ok(Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The base URL, `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops gracefully and waits.
    ///
    /// # Errors
    /// What the server failed with.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| std::io::Error::other("the server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}
