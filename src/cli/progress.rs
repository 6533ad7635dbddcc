//! A progress bar on stderr for work that takes more than a second: shown
//! only on a terminal (a script reading stderr gets no carriage returns),
//! and erased when the work is done.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Work shorter than this shows no bar.
const QUIET_FOR: Duration = Duration::from_secs(1);
const WIDTH: usize = 30;

pub struct Bar {
    what: &'static str,
    started: Instant,
    shown: bool,
    on_terminal: bool,
}

impl Bar {
    pub fn new(what: &'static str) -> Bar {
        Bar {
            what,
            started: Instant::now(),
            shown: false,
            on_terminal: std::io::stderr().is_terminal(),
        }
    }

    /// `done` of `total` steps are done.
    pub fn show(&mut self, done: usize, total: usize) {
        if !self.on_terminal || self.started.elapsed() < QUIET_FOR || total == 0 {
            return;
        }
        let filled = (done * WIDTH / total).min(WIDTH);
        let line = format!(
            "\r{} [{}{}] {:>3} % ({done}/{total} days)",
            self.what,
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            done * 100 / total
        );
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
        self.shown = true;
    }
}

impl Drop for Bar {
    /// The bar's line is blanked, so what follows starts clean.
    fn drop(&mut self) {
        if self.shown {
            let blank = format!("\r{}\r", " ".repeat(self.what.len() + WIDTH + 30));
            let _ = std::io::stderr().write_all(blank.as_bytes());
        }
    }
}
