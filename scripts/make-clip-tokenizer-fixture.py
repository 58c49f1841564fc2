#!/usr/bin/env python3
"""Records transformers' CLIPTokenizer ids for a few hundred prompts on the real CLIP
vocabulary: the expected values of the Rust tokenizer's check (scripts/test-clip-tokenizer.sh).

Writes inpaint-models/tests/fixtures/clip-tokenizer/:
  - sd15/, sd15-saved/, sdxl-2/: tokenizer_config.json and special_tokens_map.json of three
    tokenizer folders (vocab.json and merges.txt are added at test time, never committed):
    SD 1.5's as published (configs from before `added_tokens_decoder`), the same after
    transformers' `save_pretrained` (what Optimum's exporter writes), and SDXL's `tokenizer_2`
    (pad token "!", id 0, a special token).
  - expected.json: the versions used, each folder's length and pad id, then one case per
    prompt: the ids per folder as diffusers calls the tokenizer (`padding="max_length",
    max_length=77, truncation=True`), stored without the trailing padding (the attention mask's
    zeros), and `unpadded` (SD 1.5, no truncation: BOS, all tokens, EOS); and a sweep of every
    code point Python's Unicode database knows (see `sweep`), as a fingerprint per block.

Needs transformers, and NOT ftfy: transformers cleans text with ftfy when it is installed and
with its BasicTokenizer otherwise; the Rust tokenizer matches the latter (ftfy is no dependency
of transformers, diffusers or IOPaint). Run by hand when the prompts or configs change:

    /work/venv-torch/bin/python scripts/make-clip-tokenizer-fixture.py
"""

import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "inpaint-models", "tests", "fixtures", "clip-tokenizer")
VOCAB_DIR = os.path.join(ROOT, "target", "clip-vocab")


def added(content, normalized=True):
    return {"content": content, "lstrip": False, "normalized": normalized, "rstrip": False, "single_word": False}


def legacy(token):
    return {"__type": "AddedToken", **added(token)}


# runwayml/stable-diffusion-inpainting's tokenizer/ (as published, transformers 4.2x era).
SD15_CONFIG = {
    "add_prefix_space": False,
    "bos_token": legacy("<|startoftext|>"),
    "do_lower_case": True,
    "eos_token": legacy("<|endoftext|>"),
    "errors": "replace",
    "model_max_length": 77,
    "name_or_path": "openai/clip-vit-large-patch14",
    "pad_token": "<|endoftext|>",
    "special_tokens_map_file": "./special_tokens_map.json",
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": legacy("<|endoftext|>"),
}
SD15_MAP = {
    "bos_token": added("<|startoftext|>"),
    "eos_token": added("<|endoftext|>"),
    "pad_token": "<|endoftext|>",
    "unk_token": added("<|endoftext|>"),
}
# stabilityai/stable-diffusion-xl-base-1.0's tokenizer_2/.
SDXL2_CONFIG = {
    "add_prefix_space": False,
    "added_tokens_decoder": {
        "0": {**added("!", normalized=False), "special": True},
        "49406": {**added("<|startoftext|>"), "special": True},
        "49407": {**added("<|endoftext|>", normalized=False), "special": True},
    },
    "bos_token": "<|startoftext|>",
    "clean_up_tokenization_spaces": True,
    "do_lower_case": True,
    "eos_token": "<|endoftext|>",
    "errors": "replace",
    "model_max_length": 77,
    "pad_token": "!",
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": "<|endoftext|>",
}
SDXL2_MAP = {
    "bos_token": added("<|startoftext|>"),
    "eos_token": added("<|endoftext|>"),
    "pad_token": "!",
    "unk_token": added("<|endoftext|>"),
}

LONG = (
    "masterpiece, best quality, ultra-detailed, 8k, a breathtaking panoramic view of a misty "
    "mountain valley at sunrise, golden light spilling over pine forests, a winding river "
    "reflecting the sky, soft volumetric fog, dramatic clouds, cinematic composition, sharp "
    "focus, intricate details, trending on artstation, by greg rutkowski and alphonse mucha, "
    "highly detailed foreground flowers, dew drops, bokeh, depth of field, octane render, "
    "unreal engine 5, photorealistic, hdr, award winning photograph, national geographic"
)

PROMPTS = [
    "", " ", "\n", "\t \n\r ", "a photo of a cat", "A Photo Of A Cat", "A PHOTO OF A CAT",
    "a  photo   of\ta\ncat", "  leading and trailing  ", "a\r\nb\rc\nd",
    "remove the watermark", "fill with grass", "a red car parked on the street, 4k, detailed",
    "(masterpiece:1.2), (best quality), [blurry], {extra}, <lora:foo:0.8>",
    "low quality, worst quality, bad anatomy, bad hands, text, error, missing fingers",
    "it's", "IT'S", "don't", "we're", "they've", "I'm", "you'll", "he'd", "it’s (curly)",
    "'s 't 're 've 'm 'll 'd", "x's'S't", "cats'", "'quoted'", "\"double quoted\"",
    "rock'n'roll", "o'clock", "x'ſ", "x'ſt", "<|ſtartoftext|>",
    "12345", "3.14159", "1,000,000", "version 2.0.1", "4k 8K 16k", "1girl, 2boys", "100%",
    "$9.99", "#hashtag @user", "a+b=c", "x^2 + y^2 = z^2", "C++ and C#", "e-mail", "well-known",
    "semi;colon:colon", "...", "!!!", "???", "?!", "a!", "wow!!! amazing!", "!a!b!", "!",
    "hello!world", "end.", "(parentheses)", "[brackets]", "{braces}", "<angle>", "a/b\\c",
    "under_score", "back`tick", "tilde~", "pipe|bar", "star*", "caret^", "dollar$sign",
    "https://example.com/path?q=1&r=2", "user@example.com", "C:\\Windows\\System32",
    "&amp;", "fish &amp; chips", "&lt;b&gt;bold&lt;/b&gt;", "&quot;quote&quot;", "&#39;apos&#39;",
    "&#x27;hex&#x27;", "&nbsp;space", "&copy; 2024", "&amp;amp;", "Tom &amp; Jerry & friends",
    "<b>bold</b> and <i>italic</i>", "a & b", "&", "&&", "AT&T",
    "ﬁsh", "ﬂower", "ﬀ ﬃ ﬄ ﬅ ﬆ", "œuvre Æsop", "Ĳssel", "ǅ ǈ ǋ", "ß Straße STRASSE",
    "café", "cafe\u0301", "naïve résumé", "Ångström", "Crème Brûlée", "piñata jalapeño",
    "São Paulo", "Zürich Köln Düsseldorf", "Øresund Ærø", "Łódź Kraków", "Čeština Šťastný",
    "İstanbul ıi", "ΟΔΟΣ", "Σίσυφος ΣΊΣΥΦΟΣ", "ΣΑΣ ΟΔΟΣ.", "Ελληνικά", "Привет мир", "ПРИВЕТ",
    "Ёлка ёлка", "Україна", "Ǆemal", "ǈubljana",
    "猫", "一只猫坐在沙发上", "日本語のテキスト", "ひらがな カタカナ", "ｶﾀｶﾅ", "한국어 텍스트",
    "한국어", "\u1100\u1161\u11a8", "中文, English, 日本語", "猫cat猫", "東京タワー", "㐀㐁", "𠀀𠀁",
    "\uf900\uf901", "\U0002f800", "龍", "ㄅㄆㄇ", "中華人民共和國",
    "العربية", "مرحبا بالعالم", "עברית", "שלום", "हिन्दी", "नमस्ते", "ไทย", "ภาษาไทย",
    "ქართული", "Հայերեն", "አማርኛ", "ᚠᚢᚦ", "𐌰𐌱", "ꦗꦮ",
    "😀", "a 😀 b", "😀😃😄", "cat🐱", "🐱cat", "👍🏽", "👨‍👩‍👧‍👦 family", "🇫🇷🇯🇵", "❤️", "❤",
    "☀️ sunny", "✨ sparkle ✨", "🏳️‍🌈", "🙂‍↔️", "🫠", "⭐️⭐️⭐️", "©®™", "°C 30°",
    "½ ¼ ¾", "² ³ ¹", "①②③", "Ⅻ ⅻ", "٣٤٥", "१२३", "𝐀𝐁𝐂 𝒜𝒷𝒸", "Ａｂｃ　ｄｅｆ", "０１２３",
    "→ ← ↑ ↓", "∑ ∏ √ ∞", "≤ ≥ ≠", "• bullet", "— em-dash – en-dash", "…", "«guillemets»",
    "„Anführungszeichen“", "‘single’ “double”", "¡Hola! ¿Qué tal?", "¿", "§ ¶ †",
    "a\u00a0b", "a\u2003b", "a\u3000b", "a\u200bb", "a\u200cb", "a\u200db", "a\ufeffb",
    "a\u00adb", "a\u2028b", "a\u2029b", "a\u0085b", "a\x0bb", "a\x0cb", "a\x1cb", "a\x00b",
    "a\x07b", "a\x1b[31mred\x1b[0m", "a\x7fb", "a\ufffdb", "a\ue000b", "a\U000f0000b", "a\u0378b",
    "x\u0345\u0345x", "\u0345", "e\u0301\u0302", "\u0301start", "a\u20dd", "o\u0308", "\u1e9e",
    "K\u212a", "\u2126 ohm", "\u00b5 micro", "ﬀ", "\ufb01\u0301",
    "<|startoftext|>", "<|endoftext|>", "a<|endoftext|>b", "a <|endoftext|> b",
    "<|startoftext|>a photo<|endoftext|>", "<|ENDOFTEXT|>", "<|EndOfText|> x", "<|endoftext|",
    "|endoftext|>", "<|endoftext|><|endoftext|>", "<|startoftext|>!<|endoftext|>",
    "!<|endoftext|>!", "<!-- comment -->", "<|", "|>",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abababababababababab",
    "the the the the", "ThE qUiCk BrOwN fOx", "xXx_gamer_xXx", "hello\u00a0\u00a0world",
    LONG, LONG.upper(), LONG + " " + LONG, " ".join(["cat"] * 75), " ".join(["cat"] * 76),
    " ".join(["cat"] * 74), " ".join(["cat!"] * 40), "!" * 200, "a" * 1000, "猫" * 100,
    "😀" * 50, ", ".join(str(i) for i in range(100)),
]

FRAGMENTS = [
    "a", "cat", "Dog", "PHOTO", "of", "the", "sunset", "over", "Paris", "forest", "8k", "4K",
    "ultra", "detailed", "café", "Über", "naïve", "ﬁne", "&amp;", "&lt;", "!", "!!", "?", ",",
    ".", ":", ";", "'s", "'T", "(", ")", "[", "]", "1.5", "42", "猫", "犬", "東京", "한국", "か",
    "😀", "🐱", "👍🏽", "❤️", "👨‍👩‍👧", "Σ", "ΣΑΣ", "İ", "ß", "ǅ", "½", "²", "Ⅻ", "①", "—", "…",
    "\u200b", "\u00ad", "\u3000", "\u00a0", "\t", "\n", "  ", "e\u0301", "x\u0345", "<|endoftext|>",
    "-", "_", "/", "\\", "@", "#", "$", "%", "^", "*", "+", "=", "~", "`", "|", "<", ">", "\"",
]


def random_prompts(count, seed=15):
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        pieces = rng.choices(FRAGMENTS, k=rng.randint(1, 14))
        seps = rng.choices(["", " ", " ", " ", ", ", "  "], k=len(pieces))
        prompts.append("".join(p + s for p, s in zip(pieces, seps)))
    return prompts


# The sweep: every code point that CPython's Unicode database (14.0 on 3.11) knows, in blocks
# of SWEEP_BLOCK, each as "x" + c + c + "x " (the neighbours tell letters, digits and other
# characters apart: a letter joins the x's into one word, a digit is a word each time, other
# characters make one word of both). Code points unassigned there are left out: an older
# Unicode database drops them while the Rust tables may know them.
SWEEP_BLOCK = 4096


def fnv1a(ids):
    """64-bit FNV-1a over the ids as little-endian u32: a short fingerprint of a long list."""
    h = 0xCBF29CE484222325
    for i in ids:
        for b in i.to_bytes(4, "little"):
            h = ((h ^ b) * 0x100000001B3) % (1 << 64)
    return h


def unassigned_ranges():
    """[start, end) ranges of code points that are unassigned (Cn) here, surrogates included."""
    ranges = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or unicodedata.category(chr(cp)) == "Cn":
            if ranges and ranges[-1][1] == cp:
                ranges[-1][1] = cp + 1
            else:
                ranges.append([cp, cp + 1])
    return ranges


def sweep(tok, skipped):
    skip = set()
    for start, end in skipped:
        skip.update(range(start, end))
    blocks = []
    for start in range(0, 0x110000, SWEEP_BLOCK):
        chars = [chr(cp) for cp in range(start, start + SWEEP_BLOCK) if cp not in skip]
        if not chars:
            continue
        ids = tok("".join("x" + c + c + "x " for c in chars), add_special_tokens=False)["input_ids"]
        blocks.append({"start": start, "ids": len(ids), "fnv1a": f"{fnv1a(ids):016x}"})
    return blocks


def main():
    try:
        import ftfy  # noqa: F401
    except ImportError:
        pass
    else:
        sys.exit("ftfy is installed: transformers would clean text with it, which the Rust "
                 "tokenizer does not match; run in an environment without ftfy")
    import regex
    import transformers
    from transformers import CLIPTokenizer

    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fetch-clip-vocab.py"), VOCAB_DIR],
                   check=True)
    prompts = PROMPTS + random_prompts(200)
    assert len(set(prompts)) == len(prompts), "duplicate prompts"

    configs = {"sd15": (SD15_CONFIG, SD15_MAP), "sdxl-2": (SDXL2_CONFIG, SDXL2_MAP)}
    shutil.rmtree(OUT, ignore_errors=True)
    tokenizers = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (config, special_map) in configs.items():
            folder = os.path.join(tmp, name)
            os.makedirs(folder)
            for file in ["vocab.json", "merges.txt"]:
                shutil.copy(os.path.join(VOCAB_DIR, file), folder)
            for file, content in [("tokenizer_config.json", config), ("special_tokens_map.json", special_map)]:
                with open(os.path.join(folder, file), "w") as f:
                    json.dump(content, f, indent=2)
            tokenizers[name] = CLIPTokenizer.from_pretrained(folder)
        saved = os.path.join(tmp, "sd15-saved")
        tokenizers["sd15"].save_pretrained(saved)
        tokenizers["sd15-saved"] = CLIPTokenizer.from_pretrained(saved)
        saved_files = sorted(os.listdir(saved))
        assert saved_files == ["merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json"], saved_files
        for name in tokenizers:
            os.makedirs(os.path.join(OUT, name))
            for file in ["tokenizer_config.json", "special_tokens_map.json"]:
                shutil.copy(os.path.join(tmp, name, file), os.path.join(OUT, name, file))

    cases = []
    for prompt in prompts:
        case = {"prompt": prompt}
        for name, tok in tokenizers.items():
            out = tok(prompt, padding="max_length", max_length=tok.model_max_length, truncation=True)
            ids, mask = out["input_ids"], out["attention_mask"]
            real = sum(mask)
            # Stored without the padding, which the test adds back from `tokenizers`.
            assert len(ids) == tok.model_max_length and mask == [1] * real + [0] * (len(ids) - real)
            assert ids[real:] == [tok.pad_token_id] * (len(ids) - real)
            case[name] = ids[:real]
        case["unpadded"] = tokenizers["sd15"](prompt)["input_ids"]
        cases.append(case)

    sd15 = tokenizers["sd15"]
    assert cases[prompts.index("a photo of a cat")]["sd15"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    skipped = unassigned_ranges()
    blocks = sweep(sd15, skipped)
    expected = {
        "generator": "scripts/make-clip-tokenizer-fixture.py",
        "transformers": transformers.__version__,
        "tokenizer_class": type(sd15).__name__,
        "ftfy_installed": False,
        "python": platform.python_version(),
        "unicodedata": unicodedata.unidata_version,
        "regex": regex.__version__,
        "vocabulary": "open_clip_torch 3.3.0 bpe_simple_vocab_16e6.txt.gz (scripts/fetch-clip-vocab.py)",
        "call": "tokenizer(prompt, padding='max_length', max_length=tokenizer.model_max_length, truncation=True)",
        "tokenizers": {
            name: {"model_max_length": tok.model_max_length, "pad_token_id": tok.pad_token_id}
            for name, tok in tokenizers.items()
        },
        "sweep_block": SWEEP_BLOCK,
        "sweep_skipped": skipped,
        "sweep": blocks,
        "cases": cases,
    }
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        # One case per line: compact, and a change shows as a diff of the prompts it touches.
        f.write("{\n")
        items = []
        for key, value in expected.items():
            if key in ("sweep", "cases"):
                lines = ",\n".join("    " + json.dumps(v, ensure_ascii=True) for v in value)
                items.append(f"  {json.dumps(key)}: [\n{lines}\n  ]")
            else:
                items.append(f"  {json.dumps(key)}: {json.dumps(value)}")
        f.write(",\n".join(items) + "\n}\n")
    differ = sum(c["sd15"] != c["sdxl-2"] for c in cases)
    print(f"{len(cases)} prompts; SDXL tokenizer_2 differs from SD 1.5 on {differ}; written to {OUT}")


if __name__ == "__main__":
    main()
