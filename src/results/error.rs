//! What can go wrong reading a results folder: every error names the file and says why.

use std::path::{Path, PathBuf};

use super::SCHEMA_VERSION;

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file (or folder) could not be read.
    #[error("{}: cannot read: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    /// The folder is not a results folder.
    #[error("{}: not a results folder (no such directory)", path.display())]
    NoFolder { path: PathBuf },
    /// A run.json of a version this build does not read.
    #[error(
        "{}: schema_version {found} is not supported (this wabench reads version {SCHEMA_VERSION})",
        path.display()
    )]
    Schema { path: PathBuf, found: u64 },
    /// The content is not what the format says (with the line, entry or field where it can be told).
    #[error("{}: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
}

impl ResultsError {
    pub(crate) fn read(path: &Path, e: impl std::fmt::Display) -> ResultsError {
        ResultsError::Read { path: path.to_path_buf(), reason: e.to_string() }
    }

    pub(crate) fn format(path: &Path, reason: impl Into<String>) -> ResultsError {
        ResultsError::Format { path: path.to_path_buf(), reason: reason.into() }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ResultsError::Read { path, .. }
            | ResultsError::NoFolder { path }
            | ResultsError::Schema { path, .. }
            | ResultsError::Format { path, .. } => path,
        }
    }
}

impl From<ResultsError> for String {
    fn from(e: ResultsError) -> String {
        e.to_string()
    }
}
