//! WhatsApp drivers: the Cloud API and On-Premises API targets, the message mix and recipients they
//! send, how their responses are classified by the API's error code, and the retry policy per code.
//! The transport is the engine's; these modules only build requests and judge responses.

pub(crate) mod auth;
pub mod body;
pub mod cloud;
pub mod codes;
pub(crate) mod onprem;
pub(crate) mod senders;

pub use crate::spec::messages::{Kind, MessagesSpec, RetrySpec};
pub use crate::spec::recipients;
