//! The application registry: what `kind = "..."` in an `[[app]]` can be.
//!
//! A kind is a name, a one-line summary, the parameters it takes (for help
//! texts and the book), and a function that reads its parameters and returns
//! a factory. Application crates register their kinds (`simnet-http` adds
//! `http-server`, `http-client`, ...) without the loader knowing about them.

use crate::units::{
    check_interval, duration_float_error, duration_number_error, parse_duration, parse_probability,
    parse_size, probability_from_float, size_from_float,
};
use serde::de::DeserializeOwned;
use simnet_core::{App, AppFactory, HostId, Probability, Protocol, SimDuration};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

/// A shareable application factory (a scenario can build several worlds).
pub type SharedFactory = Rc<dyn Fn() -> Box<dyn App>>;

/// Wraps a closure returning a concrete application into a [`SharedFactory`].
pub fn factory<A: App, F: Fn() -> A + 'static>(f: F) -> SharedFactory {
    Rc::new(move || Box::new(f()))
}

/// Turns a shared factory into the boxed one a world takes.
pub fn boxed(f: &SharedFactory) -> AppFactory {
    let f = f.clone();
    Box::new(move || f())
}

/// One documented parameter of an application kind.
#[derive(Clone, Copy, Debug)]
pub struct ParamDoc {
    /// The key.
    pub key: &'static str,
    /// What it means, its type and its default.
    pub doc: &'static str,
}

/// One timeline command an application kind understands
/// (`[[timeline]] app = "client", command = "send"`).
#[derive(Clone, Copy, Debug)]
pub struct CommandDoc {
    /// The verb.
    pub verb: &'static str,
    /// What it does, and what `data` and `count` mean for it.
    pub doc: &'static str,
}

/// The port an application kind listens on (or binds), so that a scenario
/// giving two applications of one host the same port is refused at load.
#[derive(Clone, Copy, Debug)]
pub struct ListenPort {
    /// The parameter holding the port.
    pub key: &'static str,
    /// The port when the parameter is absent (`None`: the parameter is required).
    pub default: Option<u16>,
    /// TCP listeners and UDP sockets do not collide with each other.
    pub protocol: Protocol,
}

/// An application kind.
#[derive(Clone, Copy)]
pub struct AppKind {
    /// The name used in `kind = "..."`.
    pub name: &'static str,
    /// One line for `simnet list --apps` and the book.
    pub summary: &'static str,
    /// Its parameters.
    pub params: &'static [ParamDoc],
    /// The timeline commands it understands (empty: none); a timeline entry
    /// giving it any other verb is refused at load.
    pub commands: &'static [CommandDoc],
    /// The port it listens on, if any.
    pub listens: Option<ListenPort>,
    /// Reads the parameters and returns a factory.
    pub build: fn(&mut Params<'_>) -> Result<SharedFactory, ParamError>,
}

/// Every kind a loader knows, and the application events they emit.
#[derive(Clone, Default)]
pub struct AppRegistry {
    kinds: BTreeMap<&'static str, AppKind>,
    event_kinds: BTreeSet<&'static str>,
    event_fields: BTreeSet<&'static str>,
    duration_fields: BTreeSet<&'static str>,
}

impl AppRegistry {
    /// A registry with no kinds.
    pub fn new() -> AppRegistry {
        AppRegistry::default()
    }

    /// A registry with simnet-core's TCP and UDP applications.
    pub fn with_builtin() -> AppRegistry {
        let mut r = AppRegistry::new();
        crate::builtin::register(&mut r);
        r
    }

    /// Adds (or replaces) a kind.
    pub fn register(&mut self, kind: AppKind) {
        self.kinds.insert(kind.name, kind);
    }

    /// A kind by name.
    pub fn get(&self, name: &str) -> Option<&AppKind> {
        self.kinds.get(name)
    }

    /// Every kind, by name.
    pub fn kinds(&self) -> impl Iterator<Item = &AppKind> {
        self.kinds.values()
    }

    /// The names of every kind, for help texts.
    pub fn names(&self) -> String {
        self.kinds.keys().copied().collect::<Vec<_>>().join(", ")
    }

    /// Adds the application event kinds (`http.response`) some
    /// applications emit, and the names of the fields those events carry,
    /// so that expectations naming an event or field no application ever
    /// emits are refused at load instead of silently counting zero.
    /// `durations` are the fields that hold a duration (`latency`): a
    /// comparison with them needs a unit.
    pub fn register_events(
        &mut self,
        kinds: &[&'static str],
        fields: &[&'static str],
        durations: &[&'static str],
    ) {
        self.event_kinds.extend(kinds.iter().copied());
        self.event_fields.extend(fields.iter().copied());
        self.duration_fields.extend(durations.iter().copied());
    }

    /// Whether some application emits a duration in a field of this name.
    pub fn is_duration_field(&self, name: &str) -> bool {
        self.duration_fields.contains(name)
    }

    /// Every registered event kind, sorted (empty: events are not checked).
    pub fn event_kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.event_kinds.iter().copied()
    }

    /// Every registered event field name, sorted (empty: fields are not checked).
    pub fn event_fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.event_fields.iter().copied()
    }
}

/// A problem with one application parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    /// The key at fault (`None`: the application entry as a whole).
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What would be valid.
    pub help: Option<String>,
}

impl ParamError {
    /// An error about `key`.
    pub fn at(key: &str, message: impl Into<String>) -> ParamError {
        ParamError {
            key: Some(key.to_string()),
            message: message.into(),
            help: None,
        }
    }

    /// Adds what would be valid.
    pub fn help(mut self, help: impl Into<String>) -> ParamError {
        self.help = Some(help.into());
        self
    }
}

/// The parameters of one `[[app]]` entry, read one key at a time. Keys that
/// are never read are reported as unknown.
pub struct Params<'a> {
    table: &'a BTreeMap<String, toml::Value>,
    used: BTreeSet<String>,
    hosts: &'a [(String, Ipv4Addr)],
    /// `hosts` by name, and the hosts as a help text names them (a scenario
    /// with replicas has thousands: no linear search, no endless list).
    index: Option<(&'a BTreeMap<String, HostId>, &'a [String])>,
    kind: &'static str,
    /// The host the application runs on.
    pub host: &'a str,
}

impl<'a> Params<'a> {
    /// Parameters for an application of `kind` on `host`.
    pub fn new(
        table: &'a BTreeMap<String, toml::Value>,
        hosts: &'a [(String, Ipv4Addr)],
        kind: &'static str,
        host: &'a str,
    ) -> Params<'a> {
        Params {
            table,
            used: BTreeSet::new(),
            hosts,
            index: None,
            kind,
            host,
        }
    }

    /// Looks hosts up in `index` (name → position in `hosts`) and names
    /// them by `entries` in help texts.
    pub(crate) fn indexed(
        mut self,
        index: &'a BTreeMap<String, HostId>,
        entries: &'a [String],
    ) -> Params<'a> {
        self.index = Some((index, entries));
        self
    }

    fn take(&mut self, key: &str) -> Option<&'a toml::Value> {
        self.used.insert(key.to_string());
        self.table.get(key)
    }

    fn type_error(&self, key: &str, expected: &str, got: &toml::Value) -> ParamError {
        ParamError::at(
            key,
            format!("`{key}` must be {expected}, not {}", describe(got)),
        )
    }

    /// A string.
    pub fn string(&mut self, key: &str) -> Result<Option<String>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.type_error(key, "a string", v)),
        }
    }

    /// A boolean.
    pub fn bool(&mut self, key: &str) -> Result<Option<bool>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.type_error(key, "true or false", v)),
        }
    }

    /// A non-negative integer no larger than `max`.
    pub fn int(&mut self, key: &str, max: u64) -> Result<Option<u64>, ParamError> {
        self.int_in(key, 0, max, "a whole number")
    }

    /// An integer in `lo..=hi`; every value outside gets the same words,
    /// `what` naming the kind of number (`a port`, `a whole number`).
    fn int_in(
        &mut self,
        key: &str,
        lo: u64,
        hi: u64,
        what: &str,
    ) -> Result<Option<u64>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i))
                if u64::try_from(*i).is_ok_and(|n| (lo..=hi).contains(&n)) =>
            {
                Ok(Some(*i as u64))
            }
            Some(toml::Value::Integer(i)) => Err(ParamError::at(
                key,
                format!("`{key}` must be {what} between {lo} and {hi}, not {i}"),
            )),
            Some(v) => Err(self.type_error(key, &format!("{what} between {lo} and {hi}"), v)),
        }
    }

    /// A port number (1..=65535).
    pub fn port(&mut self, key: &str) -> Result<Option<u16>, ParamError> {
        Ok(self.int_in(key, 1, 65535, "a port")?.map(|p| p as u16))
    }

    /// A duration (`"10ms"`) that may be zero: a delay, a pause, a start
    /// time. Intervals and timeouts use [`Params::interval`].
    pub fn duration(&mut self, key: &str) -> Result<Option<SimDuration>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => parse_duration(s)
                .map(Some)
                .map_err(|e| ParamError::at(key, e)),
            Some(toml::Value::Integer(i)) => {
                Err(ParamError::at(key, duration_number_error(&i.to_string())))
            }
            Some(toml::Value::Float(f)) => Err(ParamError::at(key, duration_float_error(*f))),
            Some(v) => Err(self.type_error(key, "a duration such as \"10ms\"", v)),
        }
    }

    /// An interval or timeout (`"10ms"`): a duration of at least
    /// [`MIN_INTERVAL`](crate::units::MIN_INTERVAL), the one rule every
    /// kind's periodic and timeout parameters share (see
    /// [`check_interval`]).
    pub fn interval(&mut self, key: &str) -> Result<Option<SimDuration>, ParamError> {
        match self.duration(key)? {
            Some(d) => check_interval(&format!("`{key}`"), d)
                .map(Some)
                .map_err(|e| ParamError::at(key, e)),
            None => Ok(None),
        }
    }

    /// An interval or timeout, or one word meaning "none" (`"off"`,
    /// `"never"`): `Ok(Some(None))` for the word.
    pub fn interval_or(
        &mut self,
        key: &str,
        word: &str,
    ) -> Result<Option<Option<SimDuration>>, ParamError> {
        if let Some(toml::Value::String(s)) = self.table.get(key)
            && s == word
        {
            self.used.insert(key.to_string());
            return Ok(Some(None));
        }
        self.interval(key)
            .map(|d| d.map(Some))
            .map_err(|e| e.help(format!("a duration such as \"10ms\", or \"{word}\"")))
    }

    /// A probability (`"1%"` or `0.01`).
    pub fn probability(&mut self, key: &str) -> Result<Option<Probability>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => parse_probability(s)
                .map(Some)
                .map_err(|e| ParamError::at(key, e)),
            Some(toml::Value::Float(f)) => probability_from_float(*f)
                .map(Some)
                .map_err(|e| ParamError::at(key, e)),
            Some(toml::Value::Integer(i)) => parse_probability(&i.to_string())
                .map(Some)
                .map_err(|e| ParamError::at(key, e)),
            Some(v) => Err(self.type_error(key, "a probability such as \"1%\"", v)),
        }
    }

    /// A size in bytes (`1500`, `"64KiB"`), at most
    /// [`MAX_SIZE`](crate::units::MAX_SIZE).
    pub fn size(&mut self, key: &str) -> Result<Option<u64>, ParamError> {
        let size = match self.take(key) {
            None => return Ok(None),
            Some(toml::Value::Integer(i)) => parse_size(&i.to_string()),
            Some(toml::Value::Float(f)) => size_from_float(*f),
            Some(toml::Value::String(s)) => parse_size(s),
            Some(v) => return Err(self.type_error(key, "a size such as 1500 or \"64KiB\"", v)),
        };
        size.map(Some).map_err(|e| ParamError::at(key, e))
    }

    /// A size in bytes no larger than `max`, for what is allocated up front
    /// (`max_text` is `max` as written, e.g. `64MiB`).
    pub fn size_at_most(
        &mut self,
        key: &str,
        max: u64,
        max_text: &str,
    ) -> Result<Option<u64>, ParamError> {
        match self.size(key)? {
            Some(n) if n > max => Err(ParamError::at(
                key,
                format!("`{key}` = {n} bytes is too large: it is at most {max_text}"),
            )),
            other => Ok(other),
        }
    }

    /// A list of strings.
    pub fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(self.type_error(key, "a list of strings", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.type_error(key, "a list of strings", v)),
        }
    }

    /// One of a fixed set of words.
    pub fn choice(
        &mut self,
        key: &str,
        options: &[&'static str],
    ) -> Result<Option<&'static str>, ParamError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        options
            .iter()
            .find(|o| **o == s)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                ParamError::at(key, format!("`{s}` is not a valid `{key}`"))
                    .help(format!("one of: {}", options.join(", ")))
            })
    }

    /// A `host:port` endpoint, the host named in the scenario or an IPv4 address.
    pub fn endpoint(&mut self, key: &str) -> Result<Option<SocketAddrV4>, ParamError> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        self.endpoint_text(key, &text).map(Some)
    }

    /// Resolves `host:port` text already read from `key`.
    pub fn endpoint_text(&self, key: &str, text: &str) -> Result<SocketAddrV4, ParamError> {
        let Some((host, port)) = text.rsplit_once(':') else {
            return Err(ParamError::at(key, format!("`{text}` is not host:port"))
                .help("write e.g. \"server:80\""));
        };
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| ParamError::at(key, format!("`{port}` is not a port (1..65535)")))?;
        let found = match self.index {
            Some((index, _)) => index
                .get(host)
                .and_then(|h| self.hosts.get(h.0 as usize))
                .map(|(_, a)| *a),
            None => self.hosts.iter().find(|(n, _)| n == host).map(|(_, a)| *a),
        };
        let addr = match found {
            Some(a) => a,
            None => host.parse::<Ipv4Addr>().map_err(|_| {
                let names: Vec<&str> = match self.index {
                    Some((_, entries)) => entries.iter().map(String::as_str).collect(),
                    None => self.hosts.iter().map(|(n, _)| n.as_str()).collect(),
                };
                ParamError::at(key, format!("unknown host `{host}`"))
                    .help(format!("hosts in this scenario: {}", names.join(", ")))
            })?,
        };
        Ok(SocketAddrV4::new(addr, port))
    }

    /// The error for a required key that is missing.
    pub fn missing(&self, key: &str) -> ParamError {
        ParamError {
            key: None,
            message: format!("`{}` needs `{key}`", self.kind),
            help: None,
        }
    }

    /// Any value deserializable from TOML (e.g. a list of routes).
    pub fn deserialize<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => T::deserialize(v.clone())
                .map(Some)
                .map_err(|e| ParamError::at(key, format!("`{key}`: {}", e.message().trim()))),
        }
    }

    /// A required value: turns `None` into an error naming the key.
    pub fn require<T>(&self, key: &str, value: Option<T>) -> Result<T, ParamError> {
        value.ok_or_else(|| self.missing(key))
    }

    /// Fails on keys the kind never read.
    pub fn finish(self, kind: &AppKind) -> Result<(), ParamError> {
        if let Some(key) = self.table.keys().find(|k| !self.used.contains(*k)) {
            let valid: Vec<&str> = kind.params.iter().map(|p| p.key).collect();
            return Err(ParamError::at(
                key,
                format!("unknown key `{key}` for an app of kind `{}`", kind.name),
            )
            .help(format!("`{}` takes: {}", kind.name, valid.join(", "))));
        }
        Ok(())
    }
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(i) => format!("the number {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("{b}"),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "a list".to_string(),
        toml::Value::Table(_) => "a table".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> BTreeMap<String, toml::Value> {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn intervals_have_one_minimum_and_one_wording() {
        for (text, ok) in [
            ("every = \"1us\"", true),
            ("every = \"10ms\"", true),
            ("every = \"0s\"", false),
            ("every = \"999ns\"", false),
        ] {
            let table = params(text);
            let mut p = Params::new(&table, &[], "test", "h");
            let got = p.interval("every");
            assert_eq!(got.is_ok(), ok, "{text}: {got:?}");
            if let Err(e) = got {
                assert!(e.message.contains("must be at least 1us"), "{e:?}");
                assert_eq!(e.key.as_deref(), Some("every"));
            }
        }
        // A delay may be zero.
        let table = params("delay = \"0s\"");
        let mut p = Params::new(&table, &[], "test", "h");
        assert_eq!(p.duration("delay"), Ok(Some(SimDuration::ZERO)));
        // The "off" word.
        let table = params("idle = \"off\"");
        let mut p = Params::new(&table, &[], "test", "h");
        assert_eq!(p.interval_or("idle", "off"), Ok(Some(None)));
        let table = params("idle = \"0s\"");
        let mut p = Params::new(&table, &[], "test", "h");
        let e = p.interval_or("idle", "off").unwrap_err();
        assert!(e.help.unwrap().contains("\"off\""));
    }

    #[test]
    fn numbers_get_the_same_messages_as_in_the_file_format() {
        let table =
            params("a = 10\nb = 1e30\nc = 1500.0\nd = 0.4\ne = 0.01\nf = \"99999999999GiB\"");
        let mut p = Params::new(&table, &[], "test", "h");
        assert!(p.duration("a").unwrap_err().message.contains("\"10ms\""));
        assert!(
            p.duration("b")
                .unwrap_err()
                .message
                .starts_with("`1e30` is too large")
        );
        assert_eq!(p.size("c"), Ok(Some(1500)));
        assert!(
            p.size("d")
                .unwrap_err()
                .message
                .contains("whole number of bytes")
        );
        assert_eq!(p.probability("e"), Ok(Some(Probability::from_ppm(10_000))));
        assert!(p.size("f").unwrap_err().message.contains("at most 1TiB"));
    }
}
