//! CLIP's tokenizer: a prompt becomes the text encoder's `input_ids`.
//!
//! [`ClipTokenizer`] gives the ids that transformers' `CLIPTokenizer` gives — the "slow",
//! pure-Python tokenizer that diffusers' (and so IOPaint's and Optimum's) Stable Diffusion
//! pipelines load from a model's `tokenizer/` folder — called as those pipelines call it:
//! `tokenizer(prompt, padding="max_length", max_length=77, truncation=True)`.
//!
//! # What happens to a prompt
//!
//! 1. The added tokens (`<|startoftext|>`, `<|endoftext|>`, and any other special token the
//!    folder's config names, such as SDXL `tokenizer_2`'s pad token `!`) are split out of the raw
//!    text first, leftmost and longest first; each becomes its id directly.
//! 2. Every other piece is cleaned as transformers does **when `ftfy` is not installed** (none
//!    of transformers, diffusers and IOPaint 1.6.0 requires it): characters of the Unicode
//!    category `C*` (controls, format characters such as the zero-width joiner, private-use and
//!    unassigned code points), NUL and U+FFFD are removed; tabs, newlines and `Zs` spaces
//!    become spaces; a space is put on each side of a CJK ideograph; the text is normalised to
//!    NFC, split at whitespace, each word lower-cased, and joined with single spaces. HTML
//!    entities are left as they are: that path never unescapes them, so `&amp;` stays three
//!    tokens (with ftfy, `ftfy.fix_text` would unescape them once; OpenAI's original
//!    `basic_clean` also called `html.unescape` twice). Ligatures such as `ﬁ` stay themselves
//!    (ftfy would spell them out).
//! 3. The cleaned text is cut into words by CLIP's pattern
//!    `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`,
//!    which transformers compiles case-insensitively. It needs no look-ahead, so the `regex`
//!    crate runs it; the one place where case-insensitivity changes the result on lower-cased
//!    text is kept: U+0345 (combining ypogegrammeni, which case-folds to a letter) matches
//!    none of the classes there and is dropped.
//! 4. Each word's UTF-8 bytes are mapped to GPT-2's printable byte alphabet, `</w>` is appended
//!    to its last symbol, and the merges are applied lowest rank first, each time merging
//!    every occurrence of the pair from left to right. Symbols missing from the vocabulary
//!    become the unknown token's id.
//! 5. `BOS ids… EOS`, the ids cut to `max_length − 2` so that EOS stays last, then padded to
//!    [`max_length`](ClipTokenizer::max_length) with [`pad_token_id`](ClipTokenizer::pad_token_id).
//!
//! The checks against transformers 4.57.6 (on CPython 3.11, whose Unicode database is version
//! 14.0) are in the crate's tests (a tiny vocabulary) and in `scripts/test-clip-tokenizer.sh`:
//! 458 prompts on the real CLIP vocabulary for three tokenizer folders (SD 1.5 as published,
//! as transformers saves it, SDXL's `tokenizer_2`), and every code point of Unicode 14.0.
//! Characters assigned after Unicode 14.0 are the one known difference: an older Python treats
//! them as unassigned and drops them, while this crate's Unicode tables (those of `regex` and
//! the standard library) know them.
//!
//! # Why our own BPE rather than the `tokenizers` crate
//!
//! Correctness first: `tokenizers` implements `CLIPTokenizerFast`, whose pipeline is not the
//! slow tokenizer's that diffusers loads. On the 458 test prompts it differs on 116 (it keeps
//! control and format characters, puts no spaces around CJK ideographs, …). Then cost, measured
//! on this project's 2-core machines (BENCHMARKS.md, "CLIP tokenizer"): even with its
//! pure-Rust `fancy-regex` backend instead of `onig`, `tokenizers` 0.23 pulls in 85 crates and
//! took 59 s of CPU for a debug build (119 s release) against 14 s (33 s) for the 12 crates of
//! `regex`, `serde_json` and `unicode-normalization`, of which the workspace already builds
//! the first two. Exports carry no `tokenizer.json` either.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use inpaint_core::{Error, Result};
use regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// The sequence length of every CLIP text encoder that Stable Diffusion uses; the length when
/// the folder's `tokenizer_config.json` gives no `model_max_length`.
pub const DEFAULT_MAX_LENGTH: usize = 77;

/// The longest `model_max_length` accepted from a config: a text encoder's position table is
/// fixed and small, so a larger value is a broken config (transformers writes 1e30 when it
/// knows no length), not a request for a huge buffer.
pub const MAX_MAX_LENGTH: usize = 16_384;

/// transformers' slow tokenizer keeps at most this many merges from `merges.txt`
/// (`49152 - 256 - 2`): CLIP's vocabulary size less the bytes and the two special tokens.
const MAX_MERGES: usize = 49_152 - 256 - 2;

const END_OF_WORD: &str = "</w>";
const START_OF_TEXT: &str = "<|startoftext|>";
const END_OF_TEXT: &str = "<|endoftext|>";

/// `expect` message for the patterns below: they are constants, checked by the unit tests.
const VALID_PATTERN: &str = "a constant pattern";

/// Removed by transformers' `_clean_text`: NUL, U+FFFD and category `C*` except tab, newline
/// and carriage return (which are whitespace there).
static REMOVED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[[\x00\x{FFFD}\p{C}]--[\t\n\r]]").expect(VALID_PATTERN));

/// Turned into a space by `_clean_text`.
static WHITESPACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\t\n\r\p{Zs}]").expect(VALID_PATTERN));

/// `_is_chinese_char`'s blocks: each such character becomes a word of its own.
static CJK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}]",
    )
    .expect(VALID_PATTERN)
});

/// CLIP's word pattern. Python's `regex.IGNORECASE` only matters on lower-cased text for the
/// literals (`'s` also matches `'ſ`), so only they are case-insensitive here; U+0345, which
/// the case-insensitive classes leave out, is left out of the last class by hand.
static WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i:<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d)|\p{L}+|\p{N}|[^\s\p{L}\p{N}\x{345}]+",
    )
    .expect(VALID_PATTERN)
});

/// GPT-2's map from bytes to printable characters (`bytes_to_unicode`): the printable Latin-1
/// bytes stand for themselves, the other 68 take the code points from U+0100 on, in order.
static BYTE_CHARS: LazyLock<[char; 256]> = LazyLock::new(|| {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut chars = ['\0'; 256];
    let mut next = 256u32;
    for byte in 0..=255u8 {
        chars[usize::from(byte)] = if printable(byte) {
            char::from(byte)
        } else {
            next += 1;
            char::from_u32(next - 1).unwrap_or('\0')
        };
    }
    chars
});

/// CLIP's BPE tokenizer with the special tokens and length of one `tokenizer/` folder.
///
/// ```
/// # use inpaint_models::diffusion::tokenizer::ClipTokenizer;
/// # let dir = tempdir();
/// # std::fs::write(dir.join("vocab.json"), r#"{"a</w>": 0, "c": 1, "a": 2, "t</w>": 3, "at</w>": 4,
/// #     "cat</w>": 5, "<|startoftext|>": 6, "<|endoftext|>": 7}"#)?;
/// # std::fs::write(dir.join("merges.txt"), "#version: 0.2\na t</w>\nc at</w>\n")?;
/// # fn tempdir() -> std::path::PathBuf {
/// #     let dir = std::env::temp_dir().join(format!("clip-doc-{}", std::process::id()));
/// #     std::fs::create_dir_all(&dir).unwrap();
/// #     dir
/// # }
/// // `dir` holds vocab.json and merges.txt (a real one: the model's `tokenizer/` folder).
/// let tokenizer = ClipTokenizer::from_dir(&dir)?;
/// let ids = tokenizer.encode("A  CAT");
/// assert_eq!(ids.len(), 77);
/// assert_eq!(ids[..4], [6, 0, 5, 7]); // <|startoftext|> a</w> cat</w> <|endoftext|>
/// assert!(ids[4..].iter().all(|&id| id == tokenizer.pad_token_id()));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClipTokenizer {
    vocab: HashMap<String, i64>,
    merges: Merges,
    /// Tokens split out of the raw text before any cleaning, with their ids.
    added: HashMap<String, i64>,
    /// Finds the added tokens, longest first at each position; `None` when there are none.
    added_pattern: Option<Regex>,
    unk_id: i64,
    bos_id: i64,
    eos_id: i64,
    pad_id: i64,
    max_length: usize,
}

/// The merges, on interned symbols so that a pair is looked up without building strings.
#[derive(Debug, Clone, Default)]
struct Merges {
    ids: HashMap<String, u32>,
    texts: Vec<String>,
    /// (left, right) → (rank, merged symbol).
    pairs: HashMap<(u32, u32), (usize, u32)>,
}

/// A symbol of a word being merged: interned when some merge mentions it.
#[derive(Debug, Clone, PartialEq)]
enum Symbol {
    Known(u32),
    Unknown(String),
}

impl Merges {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        self.ids.insert(text.to_owned(), id);
        self.texts.push(text.to_owned());
        id
    }

    /// Adds the merge of `left` and `right` at `rank`; a pair listed twice keeps the later
    /// rank, as transformers' `dict(zip(merges, range(...)))` does.
    fn push(&mut self, left: &str, right: &str, rank: usize) {
        let l = self.intern(left);
        let r = self.intern(right);
        let merged = self.intern(&format!("{left}{right}"));
        self.pairs.insert((l, r), (rank, merged));
    }

    fn symbol(&self, text: String) -> Symbol {
        match self.ids.get(&text) {
            Some(&id) => Symbol::Known(id),
            None => Symbol::Unknown(text),
        }
    }

    fn text<'a>(&'a self, symbol: &'a Symbol) -> &'a str {
        match symbol {
            Symbol::Known(id) => &self.texts[*id as usize],
            Symbol::Unknown(text) => text,
        }
    }

    /// The symbols of `word` (already in the byte alphabet) before any merge: one per
    /// character, `</w>` appended to the last.
    fn initial(&self, word: &str) -> Vec<Symbol> {
        let count = word.chars().count();
        word.chars()
            .enumerate()
            .map(|(i, c)| {
                let mut text = c.to_string();
                if i + 1 == count {
                    text.push_str(END_OF_WORD);
                }
                self.symbol(text)
            })
            .collect()
    }

    /// The rank and result of the merge of `left` and `right`, if there is one.
    fn merge_of(&self, left: &Symbol, right: &Symbol) -> Option<(usize, u32)> {
        match (left, right) {
            (Symbol::Known(l), Symbol::Known(r)) => self.pairs.get(&(*l, *r)).copied(),
            _ => None,
        }
    }

    /// BPE of one word (already in the byte alphabet): its symbols after every merge.
    ///
    /// transformers repeats a pass — take the adjacent pair of lowest rank, merge each of its
    /// occurrences from left to right — which costs O(n²) on a long word; a prompt of one huge
    /// word must not hang, so this does the same passes in O(n log n): a heap holds every
    /// adjacent pair by (rank, position), all entries of the lowest rank are merged as one
    /// pass, left to right, and the pairs that pass creates join the heap after it. A pass
    /// cannot create a pair of its own rank (one side is the longer, merged symbol), so each
    /// pass merges exactly what transformers' pass merges (checked against that loop by a
    /// property test).
    fn apply(&self, word: &str) -> Vec<Symbol> {
        let mut symbols = self.initial(word);
        let n = symbols.len();
        // A linked list over `symbols`: a merged pair lives on in its left slot.
        let mut prev: Vec<Option<usize>> = (0..n).map(|i| i.checked_sub(1)).collect();
        let mut next: Vec<Option<usize>> = (0..n).map(|i| (i + 1 < n).then_some(i + 1)).collect();
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        for i in 1..n {
            if let Some((rank, _)) = self.merge_of(&symbols[i - 1], &symbols[i]) {
                heap.push(Reverse((rank, i - 1)));
            }
        }
        let mut merged_at = Vec::new();
        while let Some(&Reverse((rank, _))) = heap.peek() {
            while let Some(&Reverse((entry_rank, i))) = heap.peek() {
                if entry_rank != rank {
                    break;
                }
                heap.pop();
                // Entries go stale when a merge changes a side; a current one has its rank.
                let Some(j) = next[i].filter(|_| alive[i]) else {
                    continue;
                };
                if let Some((current, merged)) = self.merge_of(&symbols[i], &symbols[j]) {
                    if current == rank {
                        symbols[i] = Symbol::Known(merged);
                        alive[j] = false;
                        next[i] = next[j];
                        if let Some(k) = next[j] {
                            prev[k] = Some(i);
                        }
                        merged_at.push(i);
                    }
                }
            }
            for i in merged_at.drain(..) {
                let sides = [prev[i].map(|p| (p, i)), next[i].map(|k| (i, k))];
                for (left, right) in sides.into_iter().flatten() {
                    if let Some((rank, _)) = self.merge_of(&symbols[left], &symbols[right]) {
                        heap.push(Reverse((rank, left)));
                    }
                }
            }
        }
        symbols
            .into_iter()
            .zip(alive)
            .filter_map(|(symbol, alive)| alive.then_some(symbol))
            .collect()
    }
}

/// Where a tokenizer file came from, for error messages.
fn bad_file(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::model("CLIP tokenizer", format!("{}: {message}", path.display()))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn read_json(path: &Path) -> Result<Value> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|err| bad_file(path, format!("not valid JSON: {err}")))
}

/// A token in a config: a string, or an `AddedToken` object with `content`.
fn token_content(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => map.get("content").and_then(Value::as_str),
        _ => None,
    }
}

/// An entry of `added_tokens_decoder` (tokenizer_config.json) or `added_tokens`
/// (tokenizer.json). Only the flags CLIP's folders use (all false) are supported: the others
/// change how text around the token is split, which this tokenizer does not do.
fn added_token(path: &Path, value: &Value) -> Result<String> {
    let content = token_content(value)
        .ok_or_else(|| bad_file(path, format!("an added token without content: {value}")))?;
    for flag in ["lstrip", "rstrip", "single_word"] {
        if value.get(flag).and_then(Value::as_bool) == Some(true) {
            return Err(Error::unsupported(format!(
                "{}: added token `{content}` has `{flag}` set, which this CLIP tokenizer does not implement",
                path.display()
            )));
        }
    }
    Ok(content.to_owned())
}

/// The vocabulary, merges and added tokens, as read from the folder's files.
struct Model {
    vocab: HashMap<String, i64>,
    merges: Merges,
    /// From `tokenizer.json`'s `added_tokens` (used when tokenizer_config.json has no
    /// `added_tokens_decoder`, as transformers does).
    added: Option<Vec<(String, i64)>>,
}

fn vocab_from(path: &Path, value: &Value) -> Result<HashMap<String, i64>> {
    let map = value
        .as_object()
        .ok_or_else(|| bad_file(path, "the vocabulary is not a JSON object"))?;
    map.iter()
        .map(|(token, id)| match id.as_i64() {
            Some(id) if id >= 0 => Ok((token.clone(), id)),
            _ => Err(bad_file(
                path,
                format!("token `{token}` has id {id}, not an id"),
            )),
        })
        .collect()
}

fn read_vocab_json(path: &Path) -> Result<HashMap<String, i64>> {
    vocab_from(path, &read_json(path)?)
}

/// merges.txt as transformers' slow tokenizer reads it: the whole file stripped, the first line
/// skipped (the `#version` header) whatever it says, at most [`MAX_MERGES`] lines.
fn read_merges_txt(path: &Path) -> Result<Merges> {
    let text = read_text(path)?;
    let mut merges = Merges::default();
    for (rank, line) in text.trim().split('\n').skip(1).take(MAX_MERGES).enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [left, right] = parts[..] else {
            return Err(bad_file(
                path,
                format!("line {} is not a merge of two symbols: {line:?}", rank + 2),
            ));
        };
        merges.push(left, right, rank);
    }
    Ok(merges)
}

/// The BPE model of a `tokenizer.json` (the fast tokenizer's file).
fn read_tokenizer_json(path: &Path) -> Result<Model> {
    let json = read_json(path)?;
    let model = &json["model"];
    if model["type"].as_str() != Some("BPE") {
        return Err(Error::unsupported(format!(
            "{}: the model is {}, not BPE",
            path.display(),
            model["type"]
        )));
    }
    if let Some(suffix) = model["end_of_word_suffix"].as_str() {
        if suffix != END_OF_WORD {
            return Err(Error::unsupported(format!(
                "{}: end-of-word suffix {suffix:?}, CLIP's is {END_OF_WORD:?}",
                path.display()
            )));
        }
    }
    let vocab = vocab_from(path, &model["vocab"])?;
    let list = model["merges"]
        .as_array()
        .ok_or_else(|| bad_file(path, "`model.merges` is not a list"))?;
    let mut merges = Merges::default();
    for (rank, merge) in list.iter().take(MAX_MERGES).enumerate() {
        // Written as "a b" by older `tokenizers` releases, as ["a", "b"] by newer ones.
        let pair = match merge {
            Value::String(s) => s.split_once(' ').map(|(l, r)| (l.to_owned(), r.to_owned())),
            Value::Array(items) => match &items[..] {
                [Value::String(l), Value::String(r)] => Some((l.clone(), r.clone())),
                _ => None,
            },
            _ => None,
        };
        let (left, right) =
            pair.ok_or_else(|| bad_file(path, format!("merge {rank} is not a pair: {merge}")))?;
        merges.push(&left, &right, rank);
    }
    let added = match json.get("added_tokens").and_then(Value::as_array) {
        Some(list) => Some(
            list.iter()
                .map(|entry| {
                    let id = entry["id"].as_i64().ok_or_else(|| {
                        bad_file(path, format!("added token without id: {entry}"))
                    })?;
                    Ok((added_token(path, entry)?, id))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        None => None,
    };
    Ok(Model {
        vocab,
        merges,
        added,
    })
}

/// The special tokens and length, as transformers resolves them for `CLIPTokenizer`.
struct Config {
    bos: String,
    eos: String,
    unk: String,
    pad: String,
    additional: Vec<String>,
    /// `added_tokens_decoder`: content and id.
    added: Option<Vec<(String, i64)>>,
    max_length: usize,
}

impl Default for Config {
    /// `CLIPTokenizer.__init__`'s defaults.
    fn default() -> Self {
        Config {
            bos: START_OF_TEXT.to_owned(),
            eos: END_OF_TEXT.to_owned(),
            unk: END_OF_TEXT.to_owned(),
            pad: END_OF_TEXT.to_owned(),
            additional: Vec::new(),
            added: None,
            max_length: DEFAULT_MAX_LENGTH,
        }
    }
}

impl Config {
    /// Sets the special tokens a JSON object names (`bos_token`, …); `null` removes one, which
    /// for these four is an error, since encoding needs each of them.
    fn set_special_tokens(&mut self, path: &Path, json: &Value) -> Result<()> {
        for (key, slot) in [
            ("bos_token", &mut self.bos),
            ("eos_token", &mut self.eos),
            ("unk_token", &mut self.unk),
            ("pad_token", &mut self.pad),
        ] {
            match json.get(key) {
                None => {}
                Some(value) => {
                    *slot = token_content(value)
                        .ok_or_else(|| bad_file(path, format!("`{key}` is {value}, not a token")))?
                        .to_owned();
                }
            }
        }
        if let Some(list) = json
            .get("additional_special_tokens")
            .and_then(Value::as_array)
        {
            for value in list {
                let token = token_content(value).ok_or_else(|| {
                    bad_file(
                        path,
                        format!("additional special token {value} is not a token"),
                    )
                })?;
                if !self.additional.iter().any(|t| t == token) {
                    self.additional.push(token.to_owned());
                }
            }
        }
        Ok(())
    }

    /// tokenizer_config.json and special_tokens_map.json of `dir`, both optional. As in
    /// transformers, special_tokens_map.json counts only for configs written before
    /// `added_tokens_decoder` existed, and then wins over tokenizer_config.json.
    fn read(dir: &Path) -> Result<Self> {
        let mut config = Config::default();
        let config_path = dir.join("tokenizer_config.json");
        let json = if config_path.is_file() {
            read_json(&config_path)?
        } else {
            Value::Null
        };
        config.set_special_tokens(&config_path, &json)?;
        if let Some(value) = json.get("model_max_length") {
            config.max_length = value
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (2..=MAX_MAX_LENGTH).contains(n))
                .ok_or_else(|| {
                    bad_file(
                        &config_path,
                        format!(
                            "`model_max_length` is {value}, not a length from 2 to {MAX_MAX_LENGTH}"
                        ),
                    )
                })?;
        }
        match json.get("added_tokens_decoder").and_then(Value::as_object) {
            Some(decoder) => {
                let mut added = Vec::new();
                for (id, entry) in decoder {
                    let id = id.parse::<i64>().map_err(|_| {
                        bad_file(
                            &config_path,
                            format!("added token id `{id}` is not a number"),
                        )
                    })?;
                    added.push((added_token(&config_path, entry)?, id));
                }
                config.added = Some(added);
            }
            None => {
                let map_path = dir.join("special_tokens_map.json");
                if map_path.is_file() {
                    config.set_special_tokens(&map_path, &read_json(&map_path)?)?;
                }
            }
        }
        Ok(config)
    }
}

impl ClipTokenizer {
    /// Loads a model's `tokenizer/` (or `tokenizer_2/`) folder: `tokenizer.json` when present,
    /// otherwise `vocab.json` and `merges.txt` (what Optimum's exporter writes); then the
    /// special tokens and `model_max_length` from `tokenizer_config.json` and
    /// `special_tokens_map.json` when present (otherwise `CLIPTokenizer`'s defaults: every
    /// special token but BOS is `<|endoftext|>`, and [`DEFAULT_MAX_LENGTH`]).
    ///
    /// From `tokenizer.json` only the vocabulary, merges and added tokens are used: the text is
    /// always cleaned and split as the slow tokenizer does (see the [module docs](self)).
    ///
    /// # Errors
    /// A missing or unreadable file ([`Error::Io`], naming it), a malformed one
    /// ([`Error::Model`]), a special token that is not in the vocabulary, or an added-token
    /// option this tokenizer does not implement ([`Error::Unsupported`]).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let json = dir.join("tokenizer.json");
        let model = if json.is_file() {
            read_tokenizer_json(&json)?
        } else {
            let [vocab, merges] = required(dir, ["vocab.json", "merges.txt"])?;
            Model {
                vocab: read_vocab_json(&vocab)?,
                merges: read_merges_txt(&merges)?,
                added: None,
            }
        };
        let legacy_added = dir.join("added_tokens.json");
        if legacy_added.is_file() {
            return Err(Error::unsupported(format!(
                "{}: added_tokens.json (tokens added to the vocabulary) is not supported",
                legacy_added.display()
            )));
        }
        Self::new(model, Config::read(dir)?, dir)
    }

    /// Loads `vocab.json` and `merges.txt` with `CLIPTokenizer`'s default special tokens (pad
    /// with `<|endoftext|>`) and [`DEFAULT_MAX_LENGTH`].
    ///
    /// # Errors
    /// As [`from_dir`](Self::from_dir).
    pub fn from_files(vocab_json: &Path, merges_txt: &Path) -> Result<Self> {
        let model = Model {
            vocab: read_vocab_json(vocab_json)?,
            merges: read_merges_txt(merges_txt)?,
            added: None,
        };
        Self::new(model, Config::default(), vocab_json)
    }

    fn new(model: Model, config: Config, source: &Path) -> Result<Self> {
        let mut added: HashMap<String, i64> = config
            .added
            .or(model.added)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let specials = [&config.bos, &config.eos, &config.unk, &config.pad];
        for token in specials.into_iter().chain(&config.additional) {
            if !added.contains_key(token) {
                let id = *model.vocab.get(token).ok_or_else(|| {
                    bad_file(
                        source,
                        format!("special token `{token}` is neither in the vocabulary nor an added token"),
                    )
                })?;
                added.insert(token.clone(), id);
            }
        }
        let mut contents: Vec<&str> = added.keys().map(String::as_str).collect();
        // Longest first, so that at each position the longest added token wins.
        contents.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let contents: Vec<&str> = contents.into_iter().filter(|c| !c.is_empty()).collect();
        let added_pattern =
            if contents.is_empty() {
                None
            } else {
                let alternatives: Vec<String> = contents.iter().map(|c| regex::escape(c)).collect();
                Some(Regex::new(&alternatives.join("|")).map_err(|err| {
                    bad_file(source, format!("cannot match the added tokens: {err}"))
                })?)
            };
        let id_of = |token: &str| added[token];
        Ok(ClipTokenizer {
            unk_id: id_of(&config.unk),
            bos_id: id_of(&config.bos),
            eos_id: id_of(&config.eos),
            pad_id: id_of(&config.pad),
            max_length: config.max_length,
            vocab: model.vocab,
            merges: model.merges,
            added,
            added_pattern,
        })
    }

    /// The prompt's ids as the text encoder takes them: `<|startoftext|>`, the prompt's tokens
    /// cut to `max_length() - 2`, `<|endoftext|>`, then the pad token up to exactly
    /// [`max_length`](Self::max_length) ids. Any text is accepted (the empty prompt gives BOS,
    /// EOS and padding).
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let kept = self.max_length - 2;
        let mut ids = vec![self.bos_id];
        ids.extend(self.ids_up_to(text, kept).into_iter().take(kept));
        ids.push(self.eos_id);
        ids.resize(self.max_length, self.pad_id);
        ids
    }

    /// The prompt's token ids alone: no BOS or EOS, no truncation, no padding. Compare its
    /// length with `max_length() - 2` to tell whether [`encode`](Self::encode) cuts the prompt.
    pub fn token_ids(&self, text: &str) -> Vec<i64> {
        self.ids_up_to(text, usize::MAX)
    }

    /// The token ids of `text`, stopping at the first word that reaches `limit` ids: those
    /// after it would be cut anyway, so a huge prompt costs little more than its cleaning.
    fn ids_up_to(&self, text: &str, limit: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        let mut rest = 0;
        if let Some(pattern) = &self.added_pattern {
            for found in pattern.find_iter(text) {
                self.push_text_ids(&text[rest..found.start()], limit, &mut ids);
                if ids.len() >= limit {
                    return ids;
                }
                ids.push(self.added[found.as_str()]);
                rest = found.end();
            }
        }
        self.push_text_ids(&text[rest..], limit, &mut ids);
        ids
    }

    /// The number of ids [`encode`](Self::encode) returns (`model_max_length`, 77 for SD).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The id that pads [`encode`](Self::encode)'s output: `<|endoftext|>` (49407) for SD 1.5
    /// and SDXL's first tokenizer, `!` (0) for SDXL's `tokenizer_2`.
    pub fn pad_token_id(&self) -> i64 {
        self.pad_id
    }

    /// Ids of a piece of text between added tokens.
    fn push_text_ids(&self, text: &str, limit: usize, ids: &mut Vec<i64>) {
        if text.is_empty() || ids.len() >= limit {
            return;
        }
        let clean = clean_text(text);
        for word in WORDS.find_iter(&clean).map(|m| m.as_str()) {
            if ids.len() >= limit {
                return;
            }
            // transformers' BPE cache starts with these two, so they are never split.
            if word == START_OF_TEXT || word == END_OF_TEXT {
                ids.push(self.id_of(word));
                continue;
            }
            let bytes: String = word.bytes().map(|b| BYTE_CHARS[usize::from(b)]).collect();
            for symbol in self.merges.apply(&bytes) {
                ids.push(self.id_of(self.merges.text(&symbol)));
            }
        }
    }

    /// An added token's id, else the vocabulary's, else the unknown token's.
    fn id_of(&self, token: &str) -> i64 {
        self.added
            .get(token)
            .or_else(|| self.vocab.get(token))
            .copied()
            .unwrap_or(self.unk_id)
    }
}

/// The paths of the named files in `dir`, or an error naming the first one missing.
fn required<const N: usize>(dir: &Path, names: [&str; N]) -> Result<[PathBuf; N]> {
    let paths = names.map(|name| dir.join(name));
    if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
        return Err(Error::Io {
            path: missing.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the tokenizer folder has neither tokenizer.json nor vocab.json and merges.txt",
            ),
        });
    }
    Ok(paths)
}

/// transformers' `BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize`,
/// joined with spaces: what `CLIPTokenizer` does to text when `ftfy` is not installed.
fn clean_text(text: &str) -> String {
    let text = REMOVED.replace_all(text, "");
    let text = WHITESPACE.replace_all(&text, " ");
    let text = CJK.replace_all(&text, " $0 ");
    let text: String = text.nfc().collect();
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    impl Merges {
        /// transformers' `CLIPTokenizer.bpe` loop, as written there: the oracle for `apply`.
        fn apply_by_passes(&self, word: &str) -> Vec<Symbol> {
            let mut symbols = self.initial(word);
            loop {
                let best = symbols
                    .windows(2)
                    .filter_map(|w| self.merge_of(&w[0], &w[1]).map(|m| (m, w.to_vec())))
                    .min_by_key(|((rank, _), _)| *rank);
                let Some(((_, merged), pair)) = best else {
                    return symbols;
                };
                let mut next = Vec::new();
                let mut i = 0;
                while i < symbols.len() {
                    if symbols[i..].starts_with(&pair) {
                        next.push(Symbol::Known(merged));
                        i += 2;
                    } else {
                        next.push(symbols[i].clone());
                        i += 1;
                    }
                }
                symbols = next;
            }
        }
    }

    const SYMBOL_POOL: [&str; 17] = [
        "a", "b", "c", "a</w>", "b</w>", "c</w>", "ab", "ba", "bc", "aa", "abc", "ab</w>",
        "ca</w>", "aa</w>", "bca", "abab", "cab</w>",
    ];

    /// Merge tables of any kind, learned-looking or not: pairs drawn from a pool of symbols
    /// over `a`, `b`, `c` (duplicates included, so a pair can take a later rank).
    fn merge_tables() -> impl Strategy<Value = Vec<(String, String)>> {
        let symbol = proptest::sample::select(SYMBOL_POOL.to_vec()).prop_map(str::to_owned);
        proptest::collection::vec((symbol.clone(), symbol), 0..40)
    }

    proptest! {
        #[test]
        fn the_heap_bpe_merges_as_transformers_loop_does(
            table in merge_tables(),
            words in proptest::collection::vec("[abc]{1,24}", 1..8),
        ) {
            let mut merges = Merges::default();
            for (rank, (left, right)) in table.iter().enumerate() {
                merges.push(left, right, rank);
            }
            for word in &words {
                prop_assert_eq!(merges.apply(word), merges.apply_by_passes(word), "{:?}", word);
            }
        }
    }

    #[test]
    fn a_long_run_merges_into_its_binary_decomposition() {
        // Every pair of equal runs merges: a word of 2^17 letters takes 17 passes of n/2, n/4,
        // … merges, leaving runs of 2^16, 2^15, …, 1 letters.
        let mut merges = Merges::default();
        let mut run = "a".to_owned();
        for rank in 0..17 {
            merges.push(&run, &run, rank);
            run = format!("{run}{run}");
        }
        let word = "a".repeat(1 << 17);
        let symbols = merges.apply(&word);
        // The last `a` carries `</w>`, so it and the run before it stay apart.
        assert_eq!(symbols.len(), 18);
    }

    #[test]
    fn the_byte_alphabet_is_gpt2s() {
        let chars = *BYTE_CHARS;
        assert_eq!(chars[usize::from(b'a')], 'a');
        assert_eq!(chars[usize::from(b' ')], 'Ġ');
        assert_eq!(chars[0], 'Ā');
        assert_eq!(chars[0xAD], 'Ń');
        let mut sorted = chars.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 256, "every byte has its own character");
    }

    #[test]
    fn cleaning_follows_the_basic_tokenizer() {
        assert_eq!(
            clean_text("  A\tPhoto\n\nOF\u{3000}a CAT  "),
            "a photo of a cat"
        );
        // Controls and format characters go; U+2028 splits words as Python's str.split does.
        assert_eq!(
            clean_text("a\u{200B}b\u{0007}c\u{2028}d\u{FFFD}e"),
            "abc de"
        );
        assert_eq!(clean_text("猫と犬"), "猫 と 犬");
        // NFC: e + combining acute becomes é; the ligature stays (NFKC would split it).
        assert_eq!(clean_text("Cafe\u{301} ﬁne"), "café ﬁne");
        assert_eq!(clean_text("ΟΔΟΣ"), "οδος");
        assert_eq!(clean_text("&AMP;"), "&amp;");
    }

    #[test]
    fn words_follow_clips_pattern() {
        let words = |s: &str| -> Vec<String> {
            WORDS.find_iter(s).map(|m| m.as_str().to_owned()).collect()
        };
        assert_eq!(
            words("it's 42 cats!!"),
            ["it", "'s", "4", "2", "cats", "!!"]
        );
        assert_eq!(words("<|endoftext|>x"), ["<|endoftext|>", "x"]);
        assert_eq!(words("x'ſt"), ["x", "'ſ", "t"]);
        assert_eq!(words("x\u{345}\u{345}x"), ["x", "x"]);
    }
}
