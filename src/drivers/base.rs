//! What every driver's target is, whatever it sends: its name and kind, the endpoint, the HTTP
//! version, how connections reach it and the longest body it reads. The `Target` accessors of every
//! driver come from here ([`target_base_methods`]).

use std::sync::Arc;

use crate::engine::target::Endpoint;
use crate::spec::net::Net;
use crate::spec::{HttpVersion, TargetKind, TargetSpec};

/// The part of a target every driver has alike.
#[derive(Clone)]
pub struct Base {
    pub name: String,
    pub kind: TargetKind,
    pub endpoint: Endpoint,
    pub version: HttpVersion,
    /// TLS, proxy and `connect_to` of the target.
    pub net: Arc<Net>,
    /// Longest response body read (`max_body`, 1 MiB unless the profile says).
    pub max_body: u64,
}

impl Base {
    /// The base of a profile entry of kind `kind` sending to `endpoint`, reached directly until
    /// [`Base::net`] is replaced.
    pub fn new(kind: TargetKind, spec: &TargetSpec, endpoint: Endpoint) -> Base {
        Base {
            name: spec.name.clone(),
            kind,
            endpoint,
            version: spec.http_version,
            net: Net::shared_direct(),
            max_body: spec.max_body.unwrap_or(1 << 20),
        }
    }
}

/// The `Target` accessors a driver answers from its [`Base`]: `name`, `kind`, `endpoint`,
/// `http_version`, `net` and `max_body`. The argument is the path of the base in `self` (`base`,
/// `c.base`).
macro_rules! target_base_methods {
    ($($field:ident).+) => {
        fn name(&self) -> &str {
            &self.$($field).+.name
        }
        fn kind(&self) -> &str {
            self.$($field).+.kind.name()
        }
        fn endpoint(&self) -> &crate::engine::target::Endpoint {
            &self.$($field).+.endpoint
        }
        fn http_version(&self) -> crate::spec::HttpVersion {
            self.$($field).+.version
        }
        fn net(&self) -> &crate::spec::net::Net {
            &self.$($field).+.net
        }
        fn max_body(&self) -> u64 {
            self.$($field).+.max_body
        }
    };
}
pub(crate) use target_base_methods;
