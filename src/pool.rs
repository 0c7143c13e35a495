//! Thread pools for batches, one per requested size, made lazily and remade after `fork`.
//!
//! A forked child inherits the pool objects but not their threads, so work handed to them
//! would wait forever. Pools are therefore tagged with the process id that made them, and a
//! child makes its own. The parent's pools are leaked in the child rather than dropped: their
//! threads do not exist there, and dropping would try to wake them.

use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::Error;

struct Pools {
    pid: u32,
    by_size: Vec<(usize, Arc<ThreadPool>)>,
}

static POOLS: Mutex<Option<Pools>> = Mutex::new(None);

/// Cores available to this process.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A pool of `threads` workers (all cores when `None`).
pub fn get(threads: Option<usize>) -> Result<Arc<ThreadPool>, Error> {
    let size = threads.unwrap_or_else(default_threads).max(1);
    let pid = std::process::id();
    let mut guard = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_some_and(|p| p.pid != pid) {
        if let Some(stale) = guard.take() {
            std::mem::forget(stale);
        }
    }
    let pools = guard.get_or_insert_with(|| Pools {
        pid,
        by_size: Vec::new(),
    });
    if let Some((_, pool)) = pools.by_size.iter().find(|(n, _)| *n == size) {
        return Ok(Arc::clone(pool));
    }
    let pool = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(size)
            .thread_name(|i| format!("hashembed-{i}"))
            .build()
            .map_err(|_| Error::Threads)?,
    );
    pools.by_size.push((size, Arc::clone(&pool)));
    Ok(pool)
}
