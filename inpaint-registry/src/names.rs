//! Strict name resolution: exact id, then alias, else an error naming what exists.

use inpaint_core::error::closest_name;

use crate::error::{Error, Result};

/// How a name became a model id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Matched {
    /// The name is the id.
    Id,
    /// The name is an alias of the id.
    Alias {
        /// The alias used.
        alias: String,
    },
    /// No name was given, so the default model was used.
    Default {
        /// Where the default came from.
        source: DefaultSource,
    },
}

/// Where a default model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefaultSource {
    /// The catalog's [`DEFAULT_MODEL`](crate::DEFAULT_MODEL).
    Catalog,
    /// `default_model` in the models config.
    Config,
}

/// One id or alias and the id it names.
pub(crate) struct Name<'a> {
    pub(crate) name: &'a str,
    pub(crate) id: &'a str,
    pub(crate) alias: bool,
}

/// Resolves `requested` against `names` (exact ids before aliases); an unknown name is an
/// [`Error::UnknownModel`] listing every id and the closest name.
pub(crate) fn resolve_in(requested: &str, names: &[Name<'_>]) -> Result<(String, Matched)> {
    if let Some(n) = names.iter().find(|n| !n.alias && n.name == requested) {
        return Ok((n.id.to_string(), Matched::Id));
    }
    if let Some(n) = names.iter().find(|n| n.alias && n.name == requested) {
        return Ok((
            n.id.to_string(),
            Matched::Alias {
                alias: requested.to_string(),
            },
        ));
    }
    let mut known: Vec<String> = names
        .iter()
        .filter(|n| !n.alias)
        .map(|n| n.name.to_string())
        .collect();
    known.sort();
    known.dedup();
    let candidates: Vec<&str> = names.iter().map(|n| n.name).collect();
    Err(Error::UnknownModel {
        requested: requested.to_string(),
        known,
        suggestion: closest_name(requested, &candidates).map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_name_needs_to_be_close() {
        let known = ["telea", "lama", "migan"];
        assert_eq!(closest_name("LAMA", &known), Some("lama"));
        assert_eq!(closest_name("lamma", &known), Some("lama"));
        assert_eq!(closest_name("stable-diffusion", &known), None);
    }
}
