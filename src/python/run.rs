//! Running a batch without the GIL while staying interruptible.
//!
//! Python delivers Ctrl-C to the main thread only when it runs Python code, which a thread
//! inside a long native call never does. So a large batch runs on a helper thread while the
//! calling thread, GIL released, wakes every few milliseconds to let Python check its
//! signals; a pending KeyboardInterrupt sets the batch's stop flag, the workers stop at their
//! next check, and the exception propagates.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;

use crate::batch::{BatchOptions, Texts};
use crate::element::Element;
use crate::embedder::Embedder;

use super::to_py;

/// Below this many code points a batch is too quick to be worth interrupting.
const POLL_ABOVE: usize = 1 << 16;
const POLL_EVERY: Duration = Duration::from_millis(20);

/// Embeds `texts` into `out` with the GIL released.
pub fn embed_batch<T: Element>(
    py: Python<'_>,
    embedder: &Embedder,
    texts: &Texts<'_>,
    out: &mut [T],
    threads: Option<usize>,
    rows: Option<&[usize]>,
) -> PyResult<()> {
    let total = texts.len() + texts.total_chars();
    if total < POLL_ABOVE {
        let options = BatchOptions {
            threads,
            stop: None,
        };
        return py
            .detach(|| embedder.embed_batch_rows(texts, out, rows, options))
            .map_err(to_py);
    }
    // A Ctrl-C that came while the texts were being copied (GIL held, so no Python code ran
    // to see it) stops the batch before any work starts.
    py.check_signals()?;
    let stop = AtomicBool::new(false);
    let options = BatchOptions {
        threads,
        stop: Some(&stop),
    };
    let (done_tx, done) = mpsc::channel();
    // Mutex only to make the receiver shareable with the GIL-free closures below.
    let done = Mutex::new(done);
    let wait = |timeout: Option<Duration>| {
        let rx = done.lock().unwrap_or_else(|e| e.into_inner());
        match timeout {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        }
    };
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // The receiver outlives this thread (it is waited on below), so send cannot fail.
            let _ = done_tx.send(embedder.embed_batch_rows(texts, out, rows, options));
        });
        loop {
            match py.detach(|| wait(Some(POLL_EVERY))) {
                Ok(result) => return result.map_err(to_py),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = py.check_signals() {
                        stop.store(true, Ordering::Relaxed);
                        // Wait for the workers to notice; the scope joins them anyway.
                        let _ = py.detach(|| wait(None));
                        return Err(interrupt);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err(
                        "embedding worker stopped without a result",
                    ))
                }
            }
        }
    })
}
