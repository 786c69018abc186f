//! Progress on stderr. On a terminal: one status line, rewritten in place. Otherwise (a pipe, a
//! file, a CI log): one plain line per step, `mach-bench: [ 3/12   4.2 s] latency: stream`,
//! with no control characters.
//!
//! No ticker thread: a background thread would add wake-ups and a thread to the very figures
//! being measured. The line changes when a step starts.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A status line rewritten in place (stderr is a terminal).
    Terminal,
    /// One line per step, nothing rewritten (stderr is a pipe or a file).
    Plain,
    /// Nothing (tests, library use).
    Hidden,
}

/// The progress of a run.
pub struct Progress {
    style: Style,
    total: usize,
    step: usize,
    start: Instant,
    drawn: bool,
}

impl Progress {
    /// Progress for `total` steps: a status line when stderr is a terminal, plain lines
    /// otherwise.
    pub fn new(total: usize) -> Progress {
        let style = if std::io::stderr().is_terminal() {
            Style::Terminal
        } else {
            Style::Plain
        };
        Progress::with_style(total, style)
    }

    /// Progress that never draws (tests, library use).
    pub fn hidden() -> Progress {
        Progress::with_style(0, Style::Hidden)
    }

    /// Progress for `total` steps shown in `style`.
    pub fn with_style(total: usize, style: Style) -> Progress {
        Progress {
            style,
            total,
            step: 0,
            start: Instant::now(),
            drawn: false,
        }
    }

    /// How progress is shown.
    pub fn style(&self) -> Style {
        self.style
    }

    /// Whether anything is shown.
    pub fn is_enabled(&self) -> bool {
        self.style != Style::Hidden
    }

    /// Starts the next step.
    pub fn step(&mut self, label: &str) {
        self.step += 1;
        if self.style == Style::Hidden {
            return;
        }
        let line = status_line(
            self.step,
            self.total,
            self.start.elapsed().as_secs_f64(),
            label,
        );
        let mut err = std::io::stderr().lock();
        match self.style {
            Style::Hidden => {}
            Style::Terminal => {
                let _ = write!(err, "\r\x1b[K{line}");
                self.drawn = true;
            }
            Style::Plain => {
                let _ = writeln!(err, "{}", plain_line(&line));
            }
        }
        let _ = err.flush();
    }

    /// Prints a line above the status line (it stays in the scroll-back).
    pub fn note(&mut self, message: &str) {
        let mut err = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(err, "\r\x1b[K");
            self.drawn = false;
        }
        let _ = writeln!(err, "{message}");
    }

    /// Prints a line of the command's output on stdout, above the status line.
    pub fn println(&mut self, line: &str) {
        if self.drawn {
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
        if self.drawn {
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

/// A step as a plain log line: prefixed with the command's name, control characters (a label
/// is text, but a log must never receive a terminal sequence) replaced by spaces.
fn plain_line(status: &str) -> String {
    let clean: String = status
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("mach-bench: {clean}")
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
    fn plain_lines_are_prefixed_and_free_of_control_characters() {
        assert_eq!(
            plain_line(&status_line(3, 12, 4.3, "idle")),
            "mach-bench: [ 3/12   4.3 s] idle"
        );
        assert_eq!(plain_line("a\rb\x1b[Kc\n"), "mach-bench: a b [Kc ");
        let p = Progress::with_style(2, Style::Plain);
        assert!(p.is_enabled() && p.style() == Style::Plain);
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
