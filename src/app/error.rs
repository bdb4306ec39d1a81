//! The application's errors: a profile that does not hold, a results folder that cannot be read, or a
//! run that failed (with what failed and why). Each says what the user sees; `main` prints it and
//! exits 1.

use std::path::PathBuf;

use crate::drivers::BuildError;
use crate::engine::EngineError;
use crate::report::ReportError;
use crate::results::ResultsError;
use crate::spec::ProfileError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The profile: its file, field and reason.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A results folder: its file and reason.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// A target of the profile could not be built (an environment variable, a token file, the login).
    #[error("{}: {source}", profile.display())]
    Build { profile: PathBuf, source: BuildError },
    /// A report or comparison could not be drawn.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The engine could not drive a target.
    #[error("target {target:?}: {source}")]
    Engine { target: String, source: EngineError },
    /// A server, a file or a setting of the run failed; the text names it.
    #[error("{0}")]
    Failed(String),
}

impl From<String> for AppError {
    fn from(s: String) -> AppError {
        AppError::Failed(s)
    }
}

impl From<&str> for AppError {
    fn from(s: &str) -> AppError {
        AppError::Failed(s.to_string())
    }
}
