//! The project venv's Python (with pyarrow), used by tests as an independent reader.

use crate::process::locate_binary;
use anyhow::Result;
use std::path::PathBuf;

/// Environment variable naming the Python interpreter to use instead of the venv's.
pub const PYTHON_ENV: &str = "SHOPSTREAM_PYTHON";

/// The venv interpreter installed by `scripts/install-emulators.sh` (it has pyarrow).
pub fn venv_python() -> Result<PathBuf> {
    locate_binary(PYTHON_ENV, "venv/bin/python")
}
