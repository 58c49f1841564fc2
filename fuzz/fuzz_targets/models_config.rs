//! Arbitrary text as a models config: `ModelsConfig::parse` returns the config or an error
//! with a line and column inside the text, never panics.
#![no_main]

use std::path::Path;

use inpaint_registry::{Error, ModelsConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A relative source exercises the relative-path branch; an absolute one the other.
    let source = if data.first().is_some_and(|b| b & 1 == 1) {
        Path::new("models.toml")
    } else {
        Path::new("/etc/inpaint/models.toml")
    };
    match ModelsConfig::parse(&text, source) {
        Ok(config) => {
            for root in &config.roots {
                assert!(
                    root.path.is_absolute() || root.path.starts_with("."),
                    "{root:?}"
                );
            }
        }
        Err(err) => {
            if let Error::Config { line, column, .. } = &err {
                let lines = text.split('\n').count();
                assert!(*line <= lines, "line {line} of a {lines}-line text: {err}");
                if *line > 0 {
                    let length = text
                        .split('\n')
                        .nth(line - 1)
                        .map_or(0, |l| l.chars().count());
                    assert!(
                        *column <= length + 1,
                        "column {column} of a {length}-char line: {err}"
                    );
                }
            }
            let _ = err.to_string();
        }
    }
});
