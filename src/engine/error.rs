//! What can stop the engine from driving a target (as opposed to a request failing, which is an
//! [`Outcome`](super::metrics::Outcome) and counted).

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The target's address cannot be used for a connection (TLS server name, authority, Host header).
    #[error("{0}")]
    Address(String),
    /// TLS could not be set up.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// A load or aggregator thread could not start, or ended by a panic.
    #[error("{0}")]
    Thread(String),
    /// The interval log or the timeline could not be written.
    #[error("writing results: {0}")]
    Write(#[from] std::io::Error),
}
