//! The price table: which sizes each model accepts, what an image costs, and how to turn a
//! reported `usage` into dollars. A TOML data file the user can edit; the crate ships one
//! ([`BUILTIN_PRICES`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::money::Usd;

/// The price table shipped with the crate (`prices.toml`), with the date its prices were read.
pub const BUILTIN_PRICES: &str = include_str!("../prices.toml");

/// An image size the API takes, `WxH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Size {
    /// `width`×`height`.
    pub const fn new(width: u32, height: u32) -> Self {
        Size { width, height }
    }

    fn area(self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Whether a `width`×`height` region fits inside without shrinking.
    pub fn holds(self, width: u32, height: u32) -> bool {
        width <= self.width && height <= self.height
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parse = |part: &str| part.parse::<u32>().ok().filter(|&v| v > 0);
        match s.split_once('x') {
            Some((w, h)) => match (parse(w), parse(h)) {
                (Some(width), Some(height)) => Ok(Size { width, height }),
                _ => Err(format!("`{s}` is not a size such as 1024x1024")),
            },
            None => Err(format!("`{s}` is not a size such as 1024x1024")),
        }
    }
}

/// Token prices in US dollars per million tokens, for the actual cost of an answer that
/// reports `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPrices {
    /// Prompt text tokens.
    pub text_input: f64,
    /// Input image tokens (the image and mask sent).
    pub image_input: f64,
    /// Output image tokens.
    pub image_output: f64,
}

/// The token counts an answer reports (`usage` of the images API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt text tokens.
    pub text_input: u64,
    /// Input image tokens.
    pub image_input: u64,
    /// Output tokens.
    pub output: u64,
}

impl Usage {
    /// Reads `usage` from an images API answer: `input_tokens_details.{text,image}_tokens` and
    /// `output_tokens`. Without the details, every input token is priced as an image token
    /// (the dearer kind). `None` when there is no usable `usage`.
    pub fn from_json(usage: &serde_json::Value) -> Option<Usage> {
        let count = |v: &serde_json::Value, key: &str| v.get(key).and_then(|n| n.as_u64());
        let output = count(usage, "output_tokens")?;
        let input = count(usage, "input_tokens")?;
        let details = usage.get("input_tokens_details");
        let text = details.and_then(|d| count(d, "text_tokens"));
        let image = details.and_then(|d| count(d, "image_tokens"));
        Some(match (text, image) {
            (Some(text_input), Some(image_input)) => Usage {
                text_input,
                image_input,
                output,
            },
            _ => Usage {
                text_input: 0,
                image_input: input,
                output,
            },
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    read_on: String,
    models: BTreeMap<String, RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    #[serde(default = "yes")]
    response_format: bool,
    #[serde(default)]
    input_allowance: f64,
    per_image: BTreeMap<String, BTreeMap<String, f64>>,
    per_million_tokens: Option<TokenPrices>,
    max_upload_mb: Option<f64>,
}

fn yes() -> bool {
    true
}

/// One model's prices and sizes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ModelPrices {
    /// The model's name, as sent in the `model` field.
    pub model: String,
    /// Whether the request carries `response_format=b64_json` (the gpt-image models reject it).
    pub response_format: bool,
    /// Added to each estimate for the input tokens (image and prompt) an edit is billed.
    pub input_allowance: Usd,
    /// Price per image by quality, then size. Every quality lists the same sizes.
    pub per_image: BTreeMap<String, BTreeMap<Size, Usd>>,
    /// Token prices, for the actual cost when the answer reports usage.
    pub tokens: Option<TokenPrices>,
    /// The largest image or mask file the API takes, in bytes (dall-e-2: under 4 MB).
    pub max_upload_bytes: Option<u64>,
}

impl ModelPrices {
    /// The sizes the model accepts, smallest first.
    pub fn sizes(&self) -> Vec<Size> {
        let mut sizes: Vec<Size> = self
            .per_image
            .values()
            .next()
            .map(|by_size| by_size.keys().copied().collect())
            .unwrap_or_default();
        sizes.sort_by_key(|s| (s.area(), *s));
        sizes
    }

    /// The accepted size a `width`×`height` region is sent at: the smallest that holds it, or,
    /// when none does, the one that shows it largest once shrunk to fit.
    pub fn fit(&self, width: u32, height: u32) -> Size {
        let sizes = self.sizes();
        if let Some(&size) = sizes.iter().find(|s| s.holds(width, height)) {
            return size;
        }
        let scale = |s: &Size| {
            (f64::from(s.width) / f64::from(width)).min(f64::from(s.height) / f64::from(height))
        };
        // Sorted smallest first, so a tie keeps the cheaper size.
        sizes
            .iter()
            .copied()
            .reduce(|best, s| if scale(&s) > scale(&best) { s } else { best })
            .unwrap_or(Size::new(width, height))
    }

    /// The estimate for one image of `size` at `quality` (`None`: the server picks, so the
    /// dearest quality is assumed), plus the input allowance.
    pub fn estimate(&self, size: Size, quality: Option<&str>) -> Result<Usd> {
        let price = match quality {
            Some(quality) => self
                .per_image
                .get(quality)
                .ok_or_else(|| {
                    Error::config(format!(
                        "quality `{quality}` is not priced for `{}`; priced: {}",
                        self.model,
                        self.per_image
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?
                .get(&size)
                .copied(),
            None => self
                .per_image
                .values()
                .filter_map(|by_size| by_size.get(&size).copied())
                .max(),
        };
        let price = price.ok_or_else(|| {
            Error::config(format!("size {size} is not priced for `{}`", self.model))
        })?;
        Ok(price.saturating_add(self.input_allowance))
    }

    /// The actual cost of an answer's `usage`, when the table has token prices.
    pub fn actual(&self, usage: &Usage) -> Option<Usd> {
        let tokens = self.tokens?;
        let dollars = (usage.text_input as f64 * tokens.text_input
            + usage.image_input as f64 * tokens.image_input
            + usage.output as f64 * tokens.image_output)
            / 1e6;
        Usd::from_dollars(dollars)
    }
}

/// A parsed price table.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    path: PathBuf,
    read_on: String,
    models: BTreeMap<String, ModelPrices>,
}

impl PriceTable {
    /// The table shipped with the crate.
    pub fn builtin() -> Result<Self> {
        Self::parse(BUILTIN_PRICES, Path::new("<built-in prices.toml>"))
    }

    /// Reads a table from a file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Prices {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks a table; `path` names it in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let fail = |message: String| Error::Prices {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawTable = toml::from_str(text).map_err(|e| fail(e.to_string()))?;
        let dollars = |what: &str, v: f64| {
            Usd::from_dollars(v).ok_or_else(|| fail(format!("{what}: {v} is not a price")))
        };
        let mut models = BTreeMap::new();
        for (name, raw_model) in raw.models {
            let mut per_image = BTreeMap::new();
            for (quality, by_size) in raw_model.per_image {
                let mut sizes = BTreeMap::new();
                for (size, price) in by_size {
                    let parsed: Size = size.parse().map_err(|e| fail(format!("{name}: {e}")))?;
                    sizes.insert(parsed, dollars(&format!("{name} {quality} {size}"), price)?);
                }
                per_image.insert(quality, sizes);
            }
            let mut size_sets = per_image.values().map(|s| s.keys().collect::<Vec<_>>());
            let first = size_sets
                .next()
                .ok_or_else(|| fail(format!("{name}: no per_image prices")))?;
            if first.is_empty() || size_sets.any(|other| other != first) {
                return Err(fail(format!(
                    "{name}: every quality must price the same, non-empty list of sizes"
                )));
            }
            if let Some(t) = raw_model.per_million_tokens {
                for v in [t.text_input, t.image_input, t.image_output] {
                    dollars(&format!("{name} per_million_tokens"), v)?;
                }
            }
            let max_upload_bytes = match raw_model.max_upload_mb {
                Some(mb) if mb.is_finite() && mb > 0.0 => Some((mb * 1e6) as u64),
                Some(mb) => return Err(fail(format!("{name}: max_upload_mb {mb} is not a size"))),
                None => None,
            };
            let model = ModelPrices {
                model: name.clone(),
                max_upload_bytes,
                response_format: raw_model.response_format,
                input_allowance: dollars(
                    &format!("{name} input_allowance"),
                    raw_model.input_allowance,
                )?,
                per_image,
                tokens: raw_model.per_million_tokens,
            };
            models.insert(name, model);
        }
        Ok(PriceTable {
            path: path.to_path_buf(),
            read_on: raw.read_on,
            models,
        })
    }

    /// Where the table was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The date its prices were read, as the file says.
    pub fn read_on(&self) -> &str {
        &self.read_on
    }

    /// The models it prices.
    pub fn models(&self) -> impl Iterator<Item = &ModelPrices> {
        self.models.values()
    }

    /// The prices of `model`; an error naming the listed models when it is not there.
    pub fn model(&self, model: &str) -> Result<&ModelPrices> {
        self.models.get(model).ok_or_else(|| Error::UnpricedModel {
            model: model.to_string(),
            path: self.path.clone(),
            known: self.models.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> PriceTable {
        PriceTable::builtin().expect("the shipped table parses")
    }

    #[test]
    fn the_shipped_table_prices_the_documented_sizes() {
        let table = builtin();
        let dalle = table.model("dall-e-2").unwrap();
        assert_eq!(
            dalle.sizes(),
            [
                Size::new(256, 256),
                Size::new(512, 512),
                Size::new(1024, 1024)
            ]
        );
        assert!(dalle.response_format);
        assert_eq!(dalle.max_upload_bytes, Some(4_000_000));
        let gpt = table.model("gpt-image-1").unwrap();
        assert_eq!(
            gpt.sizes(),
            [
                Size::new(1024, 1024),
                Size::new(1024, 1536),
                Size::new(1536, 1024)
            ]
        );
        assert!(!gpt.response_format);
        assert!(
            table
                .model("dall-e-9")
                .unwrap_err()
                .to_string()
                .contains("gpt-image-1")
        );
    }

    #[test]
    fn sizes_fit_the_smallest_that_holds_else_the_largest_view() {
        let table = builtin();
        let dalle = table.model("dall-e-2").unwrap();
        assert_eq!(dalle.fit(200, 100), Size::new(256, 256));
        assert_eq!(dalle.fit(300, 500), Size::new(512, 512));
        assert_eq!(dalle.fit(3000, 10), Size::new(1024, 1024));
        let gpt = table.model("gpt-image-1").unwrap();
        assert_eq!(gpt.fit(900, 900), Size::new(1024, 1024));
        assert_eq!(gpt.fit(1200, 700), Size::new(1536, 1024));
        assert_eq!(gpt.fit(700, 1200), Size::new(1024, 1536));
        assert_eq!(gpt.fit(4000, 2000), Size::new(1536, 1024));
        assert_eq!(gpt.fit(2000, 2000), Size::new(1024, 1024));
    }

    #[test]
    fn estimates_take_the_dearest_quality_unless_one_is_set() {
        let table = builtin();
        let gpt = table.model("gpt-image-1").unwrap();
        let size = Size::new(1024, 1024);
        assert_eq!(gpt.estimate(size, None).unwrap().micros(), 167_000 + 20_000);
        assert_eq!(
            gpt.estimate(size, Some("low")).unwrap().micros(),
            11_000 + 20_000
        );
        assert!(gpt.estimate(size, Some("ultra")).is_err());
        assert!(gpt.estimate(Size::new(256, 256), None).is_err());
    }

    #[test]
    fn usage_becomes_dollars_with_token_prices() {
        let table = builtin();
        let usage = Usage::from_json(&serde_json::json!({
            "input_tokens": 1100, "output_tokens": 4160,
            "input_tokens_details": {"text_tokens": 100, "image_tokens": 1000}
        }))
        .unwrap();
        // 100 × $5 + 1000 × $10 + 4160 × $40, per million.
        let actual = table.model("gpt-image-1").unwrap().actual(&usage).unwrap();
        assert_eq!(actual.micros(), 500 + 10_000 + 166_400);
        assert_eq!(table.model("dall-e-2").unwrap().actual(&usage), None);
        let no_details =
            Usage::from_json(&serde_json::json!({"input_tokens": 10, "output_tokens": 1})).unwrap();
        assert_eq!(no_details.image_input, 10);
    }

    #[test]
    fn malformed_tables_are_refused() {
        let path = Path::new("p.toml");
        for bad in [
            "read_on = \"x\"\n[models.m]\nper_image.q = { \"10x\" = 1.0 }\n",
            "read_on = \"x\"\n[models.m]\nper_image.q = { \"10x10\" = -1.0 }\n",
            "read_on = \"x\"\n[models.m]\nper_image.a = { \"10x10\" = 1.0 }\nper_image.b = { \"20x20\" = 1.0 }\n",
            "read_on = \"x\"\n[models.m]\nprice = 1\n",
        ] {
            assert!(PriceTable::parse(bad, path).is_err(), "{bad}");
        }
    }
}
