//! Progress of the run's long stages on stderr: a bar when stderr is a terminal, nothing
//! otherwise (the line each stage prints when it ends is the plain record).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// One stage's bar; hidden when stderr is not a terminal.
pub struct StageProgress(Option<ProgressBar>);

impl StageProgress {
    /// A bar of `len` `unit`s labelled `stage`.
    pub fn new(stage: &str, len: u64, unit: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return StageProgress(None);
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "  {stage:<14} [{{bar:40}}] {{pos}}/{{len}} {unit} {{per_sec}} {{elapsed}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        StageProgress(Some(bar))
    }

    /// A bar that draws nothing (live runs, tests).
    pub fn hidden() -> Self {
        StageProgress(None)
    }

    pub fn inc(&self, done: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(done);
        }
    }

    pub fn set(&self, done: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(done);
        }
    }

    /// Removes the bar, so the stage's summary line takes its place.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
