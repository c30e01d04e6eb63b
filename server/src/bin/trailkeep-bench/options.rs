//! The benchmarks' options: `--name value` pairs and bare `--flag`s.

use crate::USAGE;

pub struct Options<'a>(&'a [&'a str]);

impl<'a> Options<'a> {
    pub fn new(words: &'a [&'a str], known: &[&str]) -> Result<Self, String> {
        for w in words.iter().filter(|w| w.starts_with("--")) {
            if !known.contains(w) {
                return Err(format!("unknown option {w}\n\n{USAGE}"));
            }
        }
        Ok(Options(words))
    }
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .position(|w| *w == name)
            .and_then(|i| self.0.get(i + 1).copied())
    }
    pub fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        self.value(name)
            .map(|v| {
                v.replace('_', "")
                    .parse()
                    .map_err(|_| format!("{name} must be a number"))
            })
            .unwrap_or(Ok(default))
    }
}
