//! Work spread over the machine's cores, for the report's per-account
//! figures: each item is computed exactly as it would be alone, so the
//! results do not depend on the number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Threads to use; 0 = one per core.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Limit the threads `map` uses (0: one per core); `margintop bench` times
/// phases on one core with it.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The threads `map` will use.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// `f` of every item, in order. Items are handed out a run at a time to
/// whichever thread is free: runs of one when items are few (unequal
/// items still share out well), longer runs when they are many and small,
/// so that handing out does not cost more than the work (reading a
/// recording's lines).
pub fn map<'s, T: Sync, R: Send>(items: &'s [T], f: impl Fn(&'s T) -> R + Sync) -> Vec<R> {
    let threads = threads().min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    // About 16 runs per thread: small enough to balance, few enough that
    // the shared counter is rarely touched.
    let run = items.len().div_ceil(threads * 16);
    let runs: Vec<&'s [T]> = items.chunks(run).collect();
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Vec<R>>> = runs.iter().map(|_| Mutex::new(Vec::new())).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(run) = runs.get(i) else { break };
                let r: Vec<R> = run.iter().map(&f).collect();
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = r;
            });
        }
    });
    (results.into_iter())
        .flat_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = map(&items, |x| {
            // Unequal work, so that threads finish out of order.
            (0..(x % 7) * 1000).fold(*x, |a, _| std::hint::black_box(a)) * x
        });
        assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
        assert!(map(&[] as &[u8], |x| *x).is_empty());
        // Fewer items than threads × 16: runs of one.
        assert_eq!(map(&[1, 2, 3], |x| x + 1), vec![2, 3, 4]);
    }
}
