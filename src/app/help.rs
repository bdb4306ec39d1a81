//! The command line as users meet it: the clap definitions of [`super::cli`] with examples at the end
//! of every command's `--help`, and what is generated from them (shell completions, manual pages).
//! Everything that shows the command line goes through [`command`], so help, completions and the
//! manual never disagree.

use std::io::Write;
use std::path::Path;

use clap::{CommandFactory, FromArgMatches};

use super::cli::Cli;

/// Examples shown at the end of each command's `--help` (and in its manual page), by command name.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "run",
        "wabench run profiles/quickstart.toml
wabench run profiles/quickstart.toml --set load.rate=200 --set load.duration=5m --out results/rate200
wabench run prod.toml -e HOST=staging.example --summary-json - --junit junit.xml --save-baseline main
wabench run profiles/webhook-endpoint.toml --set targets.endpoint.url=https://hooks.example.com/whatsapp
wabench run http://127.0.0.1:8080/health --rate 100 --duration 30s              # quick mode: no profile
wabench run http://127.0.0.1:8080/orders -m POST -d @order.json --stage 50:10s --stage 200:30s",
    ),
    (
        "init",
        "wabench init campaign
wabench init http --out staging.toml
wabench init webhook --out hooks.toml --force
wabench init bot",
    ),
    (
        "plan",
        "wabench plan profiles/capacity.toml
wabench plan profiles/capacity.toml --set plan.slo_p99=300ms --out results/plan-300ms",
    ),
    (
        "merge",
        "wabench merge results/shard-0 results/shard-1 --out results/merged
wabench merge results/shard-0 results/shard-1 results/shard-2 --out results/merged --junit junit.xml --summary-json merged.json
wabench merge results/shard-0 results/shard-1 --webhooks webhooks/ --out results/merged   # + delivery latency",
    ),
    (
        "simulate",
        "wabench simulate
wabench simulate --flavor onprem --listen 127.0.0.1:9090
wabench simulate --profile profiles/quickstart.toml --benchmark
wabench simulate --webhook-url http://127.0.0.1:9000/webhook --inbound-rate 2   # statuses to your client",
    ),
    (
        "receive",
        "wabench receive --listen 0.0.0.0:8443 --out webhooks/ --tls-cert fullchain.pem --tls-key privkey.pem
wabench receive --listen 127.0.0.1:8080 --out webhooks/          # plain HTTP behind a TLS proxy
wabench receive --listen 0.0.0.0:8080 --out webhooks/ --no-signature   # On-Premises (unsigned)",
    ),
    (
        "import",
        "wabench import --from jmeter --name onprem-2024 old/onprem.jtl
wabench import --from locust --name onprem-locust old/run_stats_history.csv old/run_stats.csv
wabench import --from hlog --unit ms --name archive old/latency.hlog",
    ),
    (
        "validate",
        "wabench validate profiles/quickstart.toml
wabench validate prod.toml -e HOST=staging.example --set load.rate=50
wabench validate profiles/quickstart.toml --json",
    ),
    ("report", "wabench report results/quickstart-20261129T120000Z"),
    (
        "compare",
        "wabench compare results/onprem-2024 results/cloud-now
wabench compare results/before results/after --fail-if \"p99 > 1.10\" --fail-if \"error_rate > +0.5pp\"
wabench compare --baseline main results/new --json compare.json",
    ),
    (
        "schema",
        "wabench schema --out profiles/wabench-profile.schema.json
# then start a profile with:  #:schema ./wabench-profile.schema.json",
    ),
    (
        "completions",
        "wabench completions bash > ~/.local/share/bash-completion/completions/wabench
wabench completions zsh > ~/.zfunc/_wabench
wabench completions fish > ~/.config/fish/completions/wabench.fish",
    ),
    ("man", "wabench man | man -l -\nwabench man --out target/man"),
    ("reference", "wabench reference                      # docs/src/reference/*.md\nwabench reference --out /tmp/reference"),
];

/// The whole command line, with examples after each command's help.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for (name, text) in EXAMPLES {
        cmd = cmd.mut_subcommand(*name, |c| c.after_help(examples_text(text)));
    }
    cmd.after_help(examples_text(
        "wabench run profiles/quickstart.toml        # the embedded simulator, no account needed
wabench compare results/A results/B          # side by side, with 95% intervals
wabench help run                             # every option of a command, with examples",
    ))
}

fn examples_text(lines: &str) -> String {
    let body: String = lines.lines().map(|l| format!("  {l}\n")).collect();
    format!("Examples:\n{}", body.trim_end())
}

/// Parse the process's arguments (exits with clap's message on bad usage, as `Cli::parse` would).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Write the completion script of `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut cmd = command();
    clap_complete::generate(shell, &mut cmd, "wabench", out);
}

/// The manual page of wabench (roff).
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(command()).render(out)
}

/// Write `wabench.1` and `wabench-COMMAND.1` for each command into `dir`; returns the files written.
pub fn man_pages(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let cmd = command();
    let mut written = Vec::new();
    let mut write = |name: String, c: clap::Command| -> std::io::Result<()> {
        let path = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(c).render(&mut buf)?;
        std::fs::write(&path, buf)?;
        written.push(path);
        Ok(())
    };
    write("wabench".into(), cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("wabench-{}", sub.get_name());
        write(name.clone(), sub.clone().name(name).version(cmd.get_version().unwrap_or_default().to_string()))?;
    }
    Ok(written)
}
