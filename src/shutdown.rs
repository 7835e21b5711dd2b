//! Ctrl-C and SIGTERM handling shared by every long-running command.
//!
//! The first signal asks for a graceful stop (threads stop, pending work is
//! saved or submitted, a summary is printed); a second one exits at once.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static SIGNALS: AtomicU32 = AtomicU32::new(0);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// Install the handler (idempotent). After the first Ctrl-C or SIGTERM,
/// [`requested`] returns true; the second exits the process with code 130.
pub fn install() -> Result<(), String> {
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                let n = SIGNALS.fetch_add(1, Ordering::SeqCst) + 1;
                REQUESTED.store(true, Ordering::SeqCst);
                if n >= 2 {
                    tracing::warn!("second interrupt: exiting now");
                    std::process::exit(130);
                }
                tracing::warn!("stopping (press Ctrl-C again to exit at once)");
            })
            .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))
        })
        .clone()
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Ask for a stop from inside the program (for example `--max-blocks`).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}
