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

/// `f` of every item, in order. Items are handed out one at a time to
/// whichever thread is free, so unequal items still share out well.
pub fn map<'s, T: Sync, R: Send>(items: &'s [T], f: impl Fn(&'s T) -> R + Sync) -> Vec<R> {
    let threads = threads().min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    (results.into_iter())
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .map(|r| r.expect("every item was computed"))
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
    }
}
