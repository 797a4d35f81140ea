//! An embedded server: the app's demo mode runs a real tsur-server in its own process on
//! 127.0.0.1 (an ephemeral port, SQLite in the data directory) and syncs from it over HTTP like
//! any client.

use crate::api::{self, ServerState};
use crate::auth::Role;
use crate::seed::{SeedProgress, seed_demo};
use crate::storage::Storage;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use tsur_core::demo::DemoParams;
use tsur_core::pack::RegionPack;

/// A running embedded server; dropping it stops the server and revokes its session token.
pub struct EmbeddedServer {
    pub url: String,
    /// A token made for this session only (a curator's, or the role given to `start_as`).
    pub token: String,
    token_id: i64,
    state: Arc<ServerState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedServer {
    /// Opens (or creates) the server database at `db`, seeds it with the demo region when it is
    /// empty, and serves it on 127.0.0.1.
    pub fn start(
        db: &Path,
        pack: RegionPack,
        demo: &DemoParams,
        progress: &mut dyn FnMut(SeedProgress) -> bool,
    ) -> anyhow::Result<EmbeddedServer> {
        Self::start_as(db, pack, demo, progress, Role::Curator)
    }

    /// As [`EmbeddedServer::start`], with the session's token made for `role` (the video wall
    /// uses [`Role::Wall`], so the server strips every personal field from what it sends).
    pub fn start_as(
        db: &Path,
        pack: RegionPack,
        demo: &DemoParams,
        progress: &mut dyn FnMut(SeedProgress) -> bool,
        role: Role,
    ) -> anyhow::Result<EmbeddedServer> {
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let storage = Storage::open(&format!("sqlite:{}", db.display()))?;
        if storage.latest_seq()? == 0 {
            let scratch = db.parent().unwrap_or(Path::new("."));
            let report = seed_demo(&storage, &pack, demo, scratch, progress)?;
            if report.created != demo.appeals {
                anyhow::bail!(
                    "демо-регион загружен не полностью: {} из {} ({})",
                    report.created,
                    demo.appeals,
                    report.reasons.first().cloned().unwrap_or_default()
                );
            }
        }
        let (token_id, token) = storage.create_token("локальное приложение", role, &[], &[])?;
        let state =
            Arc::new(ServerState::new(storage, pack).map_err(|e| anyhow::anyhow!(e.message))?);
        let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
        let (url_tx, url_rx) = std::sync::mpsc::channel::<anyhow::Result<String>>();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name("tsur-embedded-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = url_tx.send(Err(e.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = url_tx.send(Err(e.into()));
                            return;
                        }
                    };
                    let url = listener.local_addr().map(|a| format!("http://{a}"));
                    let _ = url_tx.send(url.map_err(Into::into));
                    let _ = api::serve(listener, served, async move {
                        let _ = rx.await;
                    })
                    .await;
                });
            })?;
        let url = url_rx.recv()??;
        Ok(EmbeddedServer {
            url,
            token,
            token_id,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = self.state.storage.revoke_token(self.token_id);
    }
}
