//! The message number of a sharded run: the request a target builds and the answer it classifies carry
//! the same number, the one of the whole run (`Shard::global`), not the shard's own count.

use crate::support::common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use wabench::engine::executor::Progress;
use wabench::engine::metrics::Outcome;
use wabench::engine::target::{Answer, Classified, Endpoint, Target};
use wabench::engine::{Plan, run_target};
use wabench::results::Shard;
use wabench::spec::HttpVersion;

/// Requests `/n/{seq}`; records each answer's seq with the number the server echoed back.
struct Numbered {
    endpoint: Endpoint,
    /// (answer.seq, number in the echoed path) per classified answer.
    seen: Mutex<Vec<(u64, Option<u64>)>>,
}

impl Target for Numbered {
    fn name(&self) -> &str {
        "numbered"
    }
    fn kind(&self) -> &str {
        "http"
    }
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
    fn http_version(&self) -> HttpVersion {
        HttpVersion::Http1
    }
    fn request(&self, seq: u64) -> Request<Full<Bytes>> {
        Request::get(format!("/n/{seq}")).body(Full::new(Bytes::new())).expect("a valid request")
    }
    fn wants_body(&self, _status: StatusCode) -> bool {
        true
    }
    fn classify(&self, a: &Answer<'_>) -> Classified {
        let echoed = std::str::from_utf8(a.body).ok().and_then(|b| b.strip_prefix("/n/")).and_then(|n| n.parse().ok());
        self.seen.lock().unwrap().push((a.seq, echoed));
        Classified::final_(if echoed == Some(a.seq) { Outcome::Ok } else { Outcome::InvalidResponse })
    }
}

#[test]
fn answers_carry_the_global_message_number_of_their_request() {
    let server = common::start(common::Behaviour { echo_path: true, ..Default::default() });
    // 200 requests in the whole plan; shard 1 of 3 sends numbers 1, 4, …, 199 (none dropped for being
    // behind schedule on a busy machine: the in-flight cap is far above what the plan needs).
    let profile = wabench::spec::parse(
        Path::new("seq.toml"),
        &format!(
            "name = \"seq\"\n[load]\nrate = 200\nduration = \"1s\"\nconnections = 4\nthreads = 2\ntimeout = \"5s\"\nmax_in_flight = 1000\n\
             [[targets]]\nname = \"numbered\"\nkind = \"http\"\nurl = \"http://{}/\"\n",
            server.addr
        ),
    )
    .expect("valid profile");
    let shard = Shard { index: 1, count: 3 };
    let plan = Plan::sharded(&profile.load, shard);
    let want: Vec<u64> = (1..200).step_by(3).collect();
    assert_eq!(plan.expected_requests(), Some(want.len() as u64));

    let target = Arc::new(Numbered {
        endpoint: Endpoint::parse(&format!("http://{}/", server.addr)).unwrap(),
        seen: Mutex::new(Vec::new()),
    });
    let stop = wabench::Shutdown::new();
    let (run, _, _) = run_target(
        target.clone(),
        server.addr,
        &plan,
        stop,
        std::io::sink(),
        std::io::sink(),
        Arc::new(Progress::default()),
    )
    .expect("the run");

    let mut seen = target.seen.lock().unwrap().clone();
    seen.sort_unstable();
    let wrong: Vec<_> = seen.iter().filter(|(seq, echoed)| seq % 3 != 1 || *echoed != Some(*seq)).collect();
    assert!(wrong.is_empty(), "answers whose seq is not this shard's or not the request's: {wrong:?}");
    let seqs: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(seqs, want, "each global number of the shard answered once");
    assert_eq!(run.recorder.sent, want.len() as u64);
    assert_eq!(run.recorder.count(Outcome::Ok), want.len() as u64);
}
