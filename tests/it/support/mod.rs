//! Helpers the test modules share: loopback servers and runs (`common`), results-folder fixtures
//! (`fixture`), a loopback server with a handler per connection or per HTTP request (`loopback`), simulator clients and the OpenAPI schema checks (`sim`), a recording webhook endpoint
//! (`recorder`), third-party readers of the formats wabench writes, in Python (`python`). Not every module uses every
//! helper, hence the allowance for unused ones.
#![allow(dead_code)]

pub mod common;
pub mod fixture;
pub mod loopback;
pub mod python;
pub mod recorder;
pub mod sim;
