//! makedumpfile's progress line (print_info.c `print_progress`) and STEP timings, and the
//! engine's messages printed at their message level.
//!
//! `\r` + label padded to 50 columns + `: [ 12.3 %] ` + spinner + two spaces + a
//! right-aligned 16-column ETA, at most once per second, always at 100 %; on stderr when
//! message level bit 1 is set. ETA only for "Copying data", as makedumpfile passes a start
//! time only there.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use engine::progress::{MessageKind, ProgressObserver, Stage};

use crate::messages::{Messages, ML_PRINT_PROGRESS};

/// Prints progress for one run.
pub struct ProgressPrinter {
    messages: Messages,
    state: Mutex<State>,
}

struct State {
    last_print: Option<Instant>,
    lapse: usize,
    stage_start: Option<(Stage, Instant)>,
}

impl ProgressPrinter {
    /// A printer honouring `messages`' level.
    pub fn new(messages: Messages) -> Self {
        ProgressPrinter {
            messages,
            state: Mutex::new(State {
                last_print: None,
                lapse: 0,
                stage_start: None,
            }),
        }
    }
}

/// makedumpfile `eta_to_human_short`.
pub fn eta_text(secs: u64) -> String {
    let minutes = secs / 60;
    let hours = minutes / 60;
    let days = hours / 24;
    if secs < 100 {
        format!("eta: {secs}s")
    } else if minutes < 100 {
        format!("eta: {minutes}m{}s", secs % 60)
    } else if hours < 48 {
        format!("eta: {hours}h{}m", minutes % 60)
    } else if days < 100 {
        format!("eta: {days}d{}h", hours % 24)
    } else {
        "eta: >100day".to_string()
    }
}

/// One progress line (without the leading `\r`).
pub fn progress_line(stage: Stage, promille: u64, spinner: char, eta: Option<u64>) -> String {
    let eta = eta.map(eta_text).unwrap_or_else(|| " ".to_string());
    format!(
        "{:<50}: [{:3}.{} %] {}  {:>16}",
        stage.label(),
        promille / 10,
        promille % 10,
        spinner,
        eta
    )
}

impl ProgressObserver for ProgressPrinter {
    fn update(&self, stage: Stage, done: u64, total: u64) {
        if self.messages.level() & ML_PRINT_PROGRESS == 0 {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        let start = match state.stage_start {
            Some((s, t)) if s == stage => t,
            _ => {
                state.stage_start = Some((stage, now));
                now
            }
        };
        let finished = done >= total;
        if !finished
            && state
                .last_print
                .is_some_and(|t| now - t < Duration::from_secs(1))
        {
            return;
        }
        state.last_print = Some(now);
        let promille = if finished {
            1000
        } else {
            done * 1000 / total.max(1)
        };
        let eta = (stage == Stage::CopyingData && promille != 0).then(|| {
            let elapsed = (now - start).as_millis() as u64;
            (elapsed / promille).saturating_sub(elapsed / 1000)
        });
        let spinner = ['/', '|', '\\', '-'][state.lapse % 4];
        state.lapse += 1;
        let _ = write!(
            std::io::stderr(),
            "\r{}",
            progress_line(stage, promille, spinner, eta)
        );
    }

    fn stage_done(&self, stage: Stage, elapsed: Duration) {
        if stage == Stage::CopyingData && self.messages.level() & ML_PRINT_PROGRESS != 0 {
            let _ = writeln!(std::io::stderr());
        }
        self.messages.report(&format!(
            "STEP [{}] : {}.{:06} seconds\n",
            stage.label(),
            elapsed.as_secs(),
            elapsed.subsec_micros()
        ));
    }

    fn message(&self, kind: MessageKind, text: &str) {
        match kind {
            MessageKind::Common => self.messages.common(text),
            MessageKind::Debug => self.messages.debug(text),
            MessageKind::Report => self.messages.report(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_eta_match_makedumpfile_format() {
        assert_eq!(
            progress_line(Stage::CopyingData, 123, '/', Some(42)),
            format!(
                "{:<50}: [ 12.3 %] /          eta: 42s",
                "Copying data               "
            )
        );
        assert_eq!(eta_text(185), "eta: 3m5s");
        assert_eq!(eta_text(7620), "eta: 2h7m");
        assert_eq!(eta_text(97200), "eta: 27h0m");
        assert_eq!(eta_text(270_000), "eta: 3d3h");
        assert_eq!(eta_text(100 * 86400), "eta: >100day");
        assert!(progress_line(Stage::MemoryHoles, 1000, '|', None)
            .ends_with("[100.0 %] |                  "));
    }
}
