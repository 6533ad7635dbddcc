//! The heap in use, counted by the allocator itself.
//!
//! The `margintop` binary allocates through `Counting` wrapped around
//! mimalloc. A soak asks whether the process keeps memory it should not;
//! the resident set cannot say (every allocator keeps freed memory for
//! reuse), and the C library's counters see nothing of an allocator that
//! is not its own. The count is the bytes asked for and not yet given back,
//! whatever the allocator underneath.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Bytes handed out and not yet freed, by every `Counting` allocator.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Whether a `Counting` allocator has handed anything out (else `LIVE`
/// means nothing: the process allocates through something else).
static COUNTING: AtomicBool = AtomicBool::new(false);

/// `A`, counting the bytes in use (`in_use`). A relaxed atomic add per
/// allocation: no difference measured on a desk replay.
pub struct Counting<A>(pub A);

// SAFETY: every call is passed on to `A` unchanged; only the count is added.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's promises about `layout` are passed on.
        let p = unsafe { self.0.alloc(layout) };
        counted(p, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`. Passed on so that the allocator can give
        // fresh, already zero pages without writing them.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        counted(p, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator with `layout` (the caller's promise).
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's promises about `ptr`, `layout` and `new_size` are passed on.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // On failure the old block stays, and so does its count.
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            counted(p, new_size);
        }
        p
    }
}

/// Count `size` bytes if `p` was handed out.
fn counted(p: *mut u8, size: usize) -> *mut u8 {
    if !p.is_null() {
        LIVE.fetch_add(size, Ordering::Relaxed);
        if !COUNTING.load(Ordering::Relaxed) {
            COUNTING.store(true, Ordering::Relaxed);
        }
    }
    p
}

/// Bytes in use, when the process allocates through `Counting`.
pub fn in_use() -> Option<usize> {
    COUNTING
        .load(Ordering::Relaxed)
        .then(|| LIVE.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    /// Allocations through a `Counting` are counted until freed, through
    /// growth, shrinking and zeroed blocks (other threads of the test
    /// binary allocate through the system allocator, not counted).
    #[test]
    fn the_count_follows_what_is_held() {
        let a = Counting(System);
        let before = LIVE.load(Ordering::Relaxed);
        let held = |want: usize| assert_eq!(LIVE.load(Ordering::Relaxed) - before, want);
        let small = Layout::from_size_align(24, 8).unwrap();
        let big = Layout::from_size_align(1 << 20, 64).unwrap();
        // SAFETY: each block is freed once, with the layout it has.
        unsafe {
            let p = a.alloc(small);
            held(24);
            let q = a.alloc_zeroed(big);
            assert!((0..big.size()).step_by(4096).all(|i| *q.add(i) == 0));
            held(24 + (1 << 20));
            let p = a.realloc(p, small, 1000);
            held(1000 + (1 << 20));
            let p = a.realloc(p, Layout::from_size_align(1000, 8).unwrap(), 10);
            held(10 + (1 << 20));
            a.dealloc(q, big);
            a.dealloc(p, Layout::from_size_align(10, 8).unwrap());
        }
        held(0);
        assert!(in_use().is_some());
    }
}
