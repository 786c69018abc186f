//! Progress on a terminal: one status line on stderr, rewritten in place, shown only when stderr
//! is a terminal (so redirected output and CI logs stay clean).
//!
//! No ticker thread: a background thread would add wake-ups and a thread to the very figures
//! being measured. The line changes when a step starts.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// The status line.
pub struct Progress {
    enabled: bool,
    total: usize,
    step: usize,
    start: Instant,
    drawn: bool,
}

impl Progress {
    /// Progress for `total` steps, shown when stderr is a terminal.
    pub fn new(total: usize) -> Progress {
        Progress::with_enabled(total, std::io::stderr().is_terminal())
    }

    /// Progress that never draws (tests, library use).
    pub fn hidden() -> Progress {
        Progress::with_enabled(0, false)
    }

    fn with_enabled(total: usize, enabled: bool) -> Progress {
        Progress {
            enabled,
            total,
            step: 0,
            start: Instant::now(),
            drawn: false,
        }
    }

    /// Whether anything is drawn.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Starts the next step.
    pub fn step(&mut self, label: &str) {
        self.step += 1;
        if !self.enabled {
            return;
        }
        let line = status_line(
            self.step,
            self.total,
            self.start.elapsed().as_secs_f64(),
            label,
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
        self.drawn = true;
    }

    /// Prints a line above the status line (it stays in the scroll-back).
    pub fn note(&mut self, message: &str) {
        let mut err = std::io::stderr().lock();
        if self.enabled && self.drawn {
            let _ = write!(err, "\r\x1b[K");
            self.drawn = false;
        }
        let _ = writeln!(err, "{message}");
    }

    /// Prints a line of the command's output on stdout, above the status line.
    pub fn println(&mut self, line: &str) {
        if self.enabled && self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.drawn = false;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// Erases the status line.
    pub fn finish(&mut self) {
        if self.enabled && self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `[ 3/12   4.2 s] label`
fn status_line(step: usize, total: usize, elapsed_s: f64, label: &str) -> String {
    let width = total.max(step).to_string().len();
    format!("[{step:>width$}/{total:<width$} {elapsed_s:5.1} s] {label}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_aligns_counts() {
        assert_eq!(status_line(3, 12, 4.3, "idle"), "[ 3/12   4.3 s] idle");
        assert_eq!(status_line(1, 1, 0.0, "x"), "[1/1   0.0 s] x");
    }

    #[test]
    fn hidden_progress_counts_steps_without_drawing() {
        let mut p = Progress::hidden();
        p.step("a");
        p.step("b");
        assert!(!p.is_enabled());
        assert_eq!(p.step, 2);
        assert!(!p.drawn);
    }
}
