//! A case file (`tests/linux/cases/*.toml`): what each namespace's peer
//! does, which simnet scenario it is compared with, and the verdict
//! expected for each fact.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::facts::FACTS;

/// One case, as written in its file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The case's name in the table.
    pub title: String,
    /// The simnet scenario compared with, relative to the repository root.
    pub scenario: String,
    /// The simnet client's address, when the scenario's client is not
    /// 10.0.0.1 (a scenario with several clients).
    #[serde(default = "default_client")]
    pub simnet_client: String,
    /// The simnet server's address.
    #[serde(default = "default_server")]
    pub simnet_server: String,
    /// The server peer's actions (`linux-ref peer` words); none: no server.
    #[serde(default)]
    pub server: String,
    /// The client peer's actions.
    pub client: String,
    /// How long the Linux run may last at most, in seconds.
    #[serde(default = "default_seconds")]
    pub seconds: u32,
    /// Remove the server's address this many milliseconds after the start
    /// (the server vanishes: nothing it receives is answered).
    #[serde(default)]
    pub vanish_ms: Option<u32>,
    /// Slow both ends with a token bucket, so that a segment sent after a
    /// peer's `fill` waits about 60 ms (Linux's stand-in for link delay
    /// when the kernel has no netem).
    #[serde(default)]
    pub shape: bool,
    /// `net.ipv4.tcp_syn_retries` in the client's namespace.
    #[serde(default)]
    pub syn_retries: Option<u8>,
    /// The verdict expected for each fact.
    pub facts: BTreeMap<String, Expected>,
}

fn default_client() -> String {
    "10.0.0.1".to_string()
}
fn default_server() -> String {
    "10.0.0.2".to_string()
}
fn default_seconds() -> u32 {
    5
}

/// A fact's expected verdict: `"agree"`, or `{ differs = "why" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Expected {
    /// `"agree"`.
    Agree(String),
    /// Differs, for this reason (one line, shown in the table).
    Differs {
        /// Why Linux and simnet differ.
        differs: String,
    },
}

impl Case {
    /// Parses and checks a case file's text.
    pub fn parse(text: &str) -> Result<Case, String> {
        let case: Case = toml::from_str(text).map_err(|e| e.to_string())?;
        for (name, exp) in &case.facts {
            if !FACTS.contains(&name.as_str()) {
                return Err(format!(
                    "unknown fact {name:?} in [facts]; known: {}",
                    FACTS.join(", ")
                ));
            }
            match exp {
                Expected::Agree(s) if s != "agree" => {
                    return Err(format!(
                        "fact {name}: {s:?} is not a verdict: write \"agree\" or {{ differs = \"why\" }}"
                    ));
                }
                Expected::Differs { differs } if differs.trim().is_empty() => {
                    return Err(format!("fact {name}: a difference needs its reason"));
                }
                _ => {}
            }
        }
        if case.facts.is_empty() {
            return Err("a case declares at least one fact under [facts]".to_string());
        }
        Ok(case)
    }

    /// The declared facts in the table's order.
    pub fn ordered_facts(&self) -> Vec<(&'static str, &Expected)> {
        FACTS
            .iter()
            .filter_map(|f| self.facts.get(*f).map(|e| (*f, e)))
            .collect()
    }

    /// The settings `tests/linux/run.sh` needs, as shell assignments it can
    /// `eval` (every value single-quoted).
    pub fn shell(&self) -> String {
        let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let opt = |v: Option<String>| v.unwrap_or_default();
        [
            ("scenario", q(&self.scenario)),
            ("server_args", q(&self.server)),
            ("client_args", q(&self.client)),
            ("seconds", self.seconds.to_string()),
            ("vanish_ms", q(&opt(self.vanish_ms.map(|v| v.to_string())))),
            ("shape", if self.shape { "1" } else { "0" }.to_string()),
            (
                "syn_retries",
                q(&opt(self.syn_retries.map(|v| v.to_string()))),
            ),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: &str = r#"
title = "client closes first"
scenario = "scenarios/tcp/close-client-first.toml"
client = "connect:10.0.0.2:80 write:5 read:5 close"
server = "listen:80 accept echo close"
[facts]
sequence = "agree"
time_wait = { differs = "it's 10 s" }
"#;

    #[test]
    fn parses_and_orders_facts() {
        let c = Case::parse(CASE).unwrap();
        assert_eq!(c.simnet_client, "10.0.0.1");
        let names: Vec<&str> = c.ordered_facts().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["sequence", "time_wait"]);
        assert!(!c.shell().contains("time_wait"));
        assert!(
            c.shell()
                .contains("scenario='scenarios/tcp/close-client-first.toml'\n")
        );
    }

    #[test]
    fn shell_quotes_survive_quotes() {
        let c = Case::parse(&CASE.replace("close-client-first.toml", "it's.toml")).unwrap();
        assert!(
            c.shell()
                .contains("scenario='scenarios/tcp/it'\\''s.toml'\n")
        );
    }

    #[test]
    fn refuses_bad_cases() {
        assert!(
            Case::parse(&CASE.replace("sequence = \"agree\"", "sequence = \"maybe\"")).is_err()
        );
        assert!(Case::parse(&CASE.replace("sequence =", "colour =")).is_err());
        assert!(Case::parse(&CASE.replace("title", "name")).is_err());
        assert!(Case::parse(&CASE.replace("it's 10 s", " ")).is_err());
    }
}
