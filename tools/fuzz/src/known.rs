//! Known crash classes: a list that is empty on main.
//!
//! While a bug the harness finds is being fixed on another branch, its class
//! may be listed here so that fuzzing elsewhere keeps finding *other* bugs:
//! inputs in a listed class are still written under `tests/fuzz-crashes/`
//! (with `known: <class>` in their note), but they fail neither the CI step
//! nor the replay test, and fresh mutants in the class are skipped unless
//! `--run-known`. A class is recognised from the input alone, never from the
//! symptom, so a new kind of crash in a known-looking input still shows up
//! once the entry is gone.
//!
//! The list must be empty when a branch lands: the first harness run found
//! four classes (an invalid request line looping forever inside one event,
//! sizes built eagerly, zero intervals, a raw CR kept in a STOMP header);
//! each was fixed, its entry removed, and its saved inputs now replay as
//! ordinary regression tests.

use crate::targets::Target;

/// Every known class: its name and what it is.
pub const KNOWN: &[(&str, &str)] = &[];

/// The known class `input` falls in, for `target`, if any.
pub fn classify(_target: Target, _input: &[u8]) -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A branch that lands must not hide any crash class.
    #[test]
    fn no_crash_class_is_hidden_on_main() {
        assert!(KNOWN.is_empty(), "known crash classes: {KNOWN:?}");
        assert_eq!(classify(Target::Run, b"path = \"/a b\""), None);
    }
}
