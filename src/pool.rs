//! Thread pools for batches, one per requested size, made lazily. Only a few recently used
//! ones are kept, with at most a few threads more than the largest of them, and each process
//! (a `fork` child too) has its own.
//!
//! A forked child inherits the pool objects but not their threads, so work handed to them
//! would wait forever; it also inherits every lock in the state another thread held at the
//! moment of the fork. So the pools live in a registry tagged with the process id, reached
//! through an atomic pointer rather than a lock: a child sees the parent's id, makes a
//! registry of its own and never touches the parent's lock. The parent's registry is leaked
//! in the child rather than dropped: its threads do not exist there, and dropping would try to
//! wake them.

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::Error;

/// Pools kept for reuse at most. Every distinct size asked for would otherwise keep its
/// threads for the life of the process (128 sizes: 8 256 threads). An evicted pool's threads
/// exit once the last batch running on it ends.
const KEEP: usize = 4;

/// Threads the kept pools may hold beyond the largest of them: room for the small pools a
/// program uses beside its main one (`num_threads=1` or 2 next to all cores), without keeping
/// several large ones (the four most recent of 64 sizes held 250 threads).
const SPARE_THREADS: usize = 4;

struct Registry {
    pid: u32,
    /// Cores available to the process when the registry was made: asking again costs tens
    /// of microseconds (Linux reads the cgroup's CPU quota from files), more than a small batch.
    cores: usize,
    /// Least recently used first.
    pools: Mutex<Vec<(usize, Arc<ThreadPool>)>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Vec<(usize, Arc<ThreadPool>)>> {
        // A panic while holding the lock leaves the list itself valid.
        self.pools.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Registries are never freed, so a pointer once stored here stays valid.
static REGISTRY: AtomicPtr<Registry> = AtomicPtr::new(ptr::null_mut());

/// This process's registry.
fn registry() -> &'static Registry {
    let pid = std::process::id();
    loop {
        let current = REGISTRY.load(Ordering::Acquire);
        // SAFETY: non-null pointers in REGISTRY come from `Box::into_raw` and are never freed.
        if let Some(r) = unsafe { current.as_ref() } {
            if r.pid == pid {
                return r;
            }
        }
        let fresh = Box::into_raw(Box::new(Registry {
            pid,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pools: Mutex::new(Vec::new()),
        }));
        match REGISTRY.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: just made from a Box, and from now on never freed.
            Ok(_) => return unsafe { &*fresh },
            // Another thread stored one first: ours was never shared, so it can go.
            // SAFETY: `fresh` came from `Box::into_raw` above and nothing else has it.
            Err(_) => drop(unsafe { Box::from_raw(fresh) }),
        }
    }
}

/// Cores available to this process (read once per process: pass a size to use others).
pub fn default_threads() -> usize {
    registry().cores
}

/// The kept pool of `size` workers, now the most recently used.
fn reuse<P: Clone>(pools: &mut Vec<(usize, P)>, size: usize) -> Option<P> {
    let at = pools.iter().position(|(n, _)| *n == size)?;
    let entry = pools.remove(at);
    let pool = entry.1.clone();
    pools.push(entry);
    Some(pool)
}

/// A pool of `threads` workers (all cores when `None`).
pub fn get(threads: Option<usize>) -> Result<Arc<ThreadPool>, Error> {
    let size = threads.unwrap_or_else(default_threads).max(1);
    let registry = registry();
    if let Some(pool) = reuse(&mut registry.lock(), size) {
        return Ok(pool);
    }
    // Built without the lock held: starting threads takes a while, and other batches need
    // not wait for it.
    let built = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(size)
            .thread_name(|i| format!("hashembed-{i}"))
            .build()
            .map_err(|_| Error::Threads)?,
    );
    let evicted = {
        let mut pools = registry.lock();
        // Another thread may have built one of this size meanwhile; ours is then dropped.
        if let Some(pool) = reuse(&mut pools, size) {
            return Ok(pool);
        }
        pools.push((size, Arc::clone(&built)));
        evict(&mut pools)
    };
    // Dropped after unlocking: dropping the last handle of a pool wakes its threads to exit.
    drop(evicted);
    Ok(built)
}

/// Removes and returns the pools not kept: from the most recently used back, a pool is kept
/// if there is room for it (fewer than `KEEP` kept, and all the kept pools' threads within
/// `SPARE_THREADS` of the largest one). The most recent is always kept.
fn evict<P>(pools: &mut Vec<(usize, P)>) -> Vec<P> {
    let (mut kept, mut threads, mut largest) = (0, 0, 0);
    let mut keep = vec![false; pools.len()];
    for (k, &(size, _)) in pools.iter().enumerate().rev() {
        let (total, most) = (threads + size, largest.max(size));
        if kept == 0 || (kept < KEEP && total <= most + SPARE_THREADS) {
            keep[k] = true;
            (kept, threads, largest) = (kept + 1, total, most);
        }
    }
    let (kept, evicted): (Vec<_>, Vec<_>) = std::mem::take(pools)
        .into_iter()
        .zip(keep)
        .partition(|&(_, k)| k);
    *pools = kept.into_iter().map(|(entry, _)| entry).collect();
    evicted.into_iter().map(|((_, pool), _)| pool).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_most_recently_used_pools_are_kept() {
        // Sizes no other test asks for, so nothing else holds these pools.
        let sizes = 41..=50;
        let weak: Vec<_> = sizes
            .clone()
            .map(|n| Arc::downgrade(&get(Some(n)).unwrap()))
            .collect();
        let alive: Vec<usize> = sizes
            .zip(&weak)
            .filter(|(_, w)| w.upgrade().is_some())
            .map(|(n, _)| n)
            .collect();
        // Any two of them hold more than SPARE_THREADS beyond the larger. Other tests' batches
        // running meanwhile may evict more of them, never fewer.
        assert!(alive.len() <= 1, "pools kept: {alive:?}");
    }

    #[test]
    fn the_kept_pools_hold_a_few_threads_more_than_the_largest() {
        let mut pools = Vec::new();
        let mut kept = Vec::new();
        for size in [1, 64, 2, 3, 64, 8, 1, 2, 3, 4] {
            if reuse(&mut pools, size).is_none() {
                pools.push((size, size));
                evict(&mut pools);
            }
            kept.push(pools.iter().map(|&(n, _)| n).collect::<Vec<_>>());
        }
        let want: [&[usize]; 10] = [
            &[1],
            &[1, 64],
            &[1, 64, 2],
            &[1, 2, 3],
            &[1, 3, 64],
            &[1, 3, 8],
            &[3, 8, 1],
            &[8, 1, 2],
            &[1, 2, 3],
            &[1, 3, 4],
        ];
        assert_eq!(kept, want);
        for sizes in &kept {
            let largest = sizes.iter().max().unwrap();
            assert!(sizes.len() <= KEEP && sizes.iter().sum::<usize>() <= largest + SPARE_THREADS);
        }
    }

    #[test]
    fn a_pool_in_use_outlives_its_eviction() {
        let pool = get(Some(61)).unwrap();
        for n in 62..62 + KEEP {
            get(Some(n)).unwrap();
        }
        assert_eq!(pool.install(rayon::current_num_threads), 61);
    }
}
