//! Where the `*_env` settings are looked up: variables given to the program first, then the process
//! environment. A test or an embedding program gives its variables here instead of changing the
//! process's environment, which would race with every other thread that reads it.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Variables given in place of the process environment's, by name; the process environment for the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    given: BTreeMap<String, String>,
}

impl Env {
    /// The process environment, with `name` set to `value`.
    pub fn with(mut self, name: &str, value: &str) -> Env {
        self.given.insert(name.to_string(), value.to_string());
        self
    }

    /// The value of `name` as text: the given one, else the process environment's (`None` when unset
    /// or not Unicode).
    pub fn var(&self, name: &str) -> Option<String> {
        self.given.get(name).cloned().or_else(|| std::env::var(name).ok())
    }

    /// The value of `name`: the given one, else the process environment's.
    pub fn var_os(&self, name: &str) -> Option<OsString> {
        self.given.get(name).map(OsString::from).or_else(|| std::env::var_os(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_variables_come_first_then_the_process_environment() {
        let env = Env::default().with("WABENCH_UNITS_ENV_GIVEN", "x");
        assert_eq!(env.var("WABENCH_UNITS_ENV_GIVEN").as_deref(), Some("x"));
        assert_eq!(env.var_os("WABENCH_UNITS_ENV_GIVEN"), Some(OsString::from("x")));
        assert_eq!(env.var("PATH"), std::env::var("PATH").ok());
        assert_eq!(Env::default().var("WABENCH_UNITS_ENV_GIVEN"), None);
    }
}
