#!/usr/bin/env python3
"""Golden fixture for GptBert's EncoderDecoderModel (bert2gpt2), made by transformers itself.

Writes tests/GptBert.Tests/Models/Golden/encdec/{config.json, model.safetensors, expected.json}: a tiny
transformers EncoderDecoderModel (BertModel encoder 48 wide, GPT2LMHeadModel decoder 32 wide with
add_cross_attention, so enc_to_dec_proj exists), its logits for a padded batch and its greedy generation.
EncoderDecoderGoldenTests loads the directory with GptBert and compares.

With an argument DIR (a directory GptBert saved), instead loads DIR with EncoderDecoderModel.from_pretrained
and prints missing/unexpected keys (the other direction). With DIR --write it also loads DIR's two tokenizers
(AutoTokenizer at the top: the decoder's; subfolder="encoder_tokenizer": the encoder's), runs the model on tokenized
sources and targets and greedy generate(), and writes DIR/expected.json: tests/GptBert.Tests/Models/Golden/encdec-ours
is a warm-started directory written by GptBert (Seq2SeqTrainingTests with ENCDEC_OURS_SAVE=DIR) checked this way, and
EncoderDecoderInteropTests compares GptBert's logits, token ids and generation with transformers' on it.
"""
import json
import os
import shutil
import sys
import tempfile

import torch
import transformers
from transformers import BertConfig, EncoderDecoderConfig, EncoderDecoderModel, GPT2Config

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "GptBert.Tests", "Models", "Golden", "encdec")
SEED = 20261204
INPUT_IDS = [[5, 17, 9, 8, 13, 3], [9, 11, 4, 12, 0, 0]]
ATTENTION_MASK = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]
DECODER_INPUT_IDS = [[1, 7, 3, 15, 4], [1, 2, 19, 6, 10]]


def f32(v):
    return float(f"{v:.9g}")


def build():
    torch.manual_seed(SEED)
    enc = BertConfig(vocab_size=20, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                     max_position_embeddings=32, hidden_dropout_prob=0, attention_probs_dropout_prob=0,
                     pad_token_id=0, initializer_range=0.2)
    dec = GPT2Config(vocab_size=20, n_positions=32, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0, embd_pdrop=0,
                     attn_pdrop=0, bos_token_id=1, eos_token_id=2, pad_token_id=0, initializer_range=0.2)
    cfg = EncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    cfg.decoder_start_token_id = 1
    cfg.pad_token_id = 0
    model = EncoderDecoderModel(config=cfg)
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():  # non-trivial biases and LayerNorm weights
        for name, p in model.named_parameters():
            if name.endswith(".bias") or "ln_" in name or "LayerNorm" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


OURS_SOURCES = ["c a f", "b e a d", "f"]
OURS_TARGETS = [" f a c", "d a e b", ""]


def check_ours(d, write=False):
    """Loads a directory GptBert wrote; with write=True also records transformers' view of it in DIR/expected.json."""
    model, info = EncoderDecoderModel.from_pretrained(d, output_loading_info=True)
    print(json.dumps({k: v for k, v in info.items()}, default=str))
    ok = not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    print("OK" if ok else "FAIL")
    if not ok or not write:
        return 0 if ok else 1
    # The two tokenizers of the layout: the decoder's at the top, the encoder's in encoder_tokenizer/.
    from transformers import AutoTokenizer
    sys.path.insert(0, os.path.dirname(__file__))
    from check import patch_added_token_without_tokenizers  # offline installs without `tokenizers` (see check.py)
    patch_added_token_without_tokenizers()
    dec_tok = AutoTokenizer.from_pretrained(d, use_fast=False)
    enc_tok = AutoTokenizer.from_pretrained(d, subfolder="encoder_tokenizer", use_fast=False)
    enc = enc_tok(OURS_SOURCES, padding=True, return_tensors="pt")
    targets = [dec_tok(t, add_special_tokens=False)["input_ids"] for t in OURS_TARGETS]
    start = model.config.decoder_start_token_id
    width = max(len(t) for t in targets) + 1
    dec_ids = [[start] + t + [model.config.pad_token_id] * (width - 1 - len(t)) for t in targets]
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                       decoder_input_ids=torch.tensor(dec_ids)).logits
        greedy = model.generate(enc["input_ids"], attention_mask=enc["attention_mask"], max_new_tokens=6, do_sample=False,
                                num_beams=1, decoder_start_token_id=start, eos_token_id=model.config.decoder.eos_token_id,
                                pad_token_id=model.config.pad_token_id)
    expected = {
        "about": "transformers' view of a directory GptBert wrote (encdec warm start); written by tools/hf-check/encdec_golden.py --ours DIR --write",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
        "loading_info": {k: [str(x) for x in v] for k, v in info.items()},
        "encoder_tokenizer_class": type(enc_tok).__name__, "decoder_tokenizer_class": type(dec_tok).__name__,
        "sources": OURS_SOURCES, "input_ids": enc["input_ids"].tolist(), "attention_mask": enc["attention_mask"].tolist(),
        "targets": OURS_TARGETS, "target_ids": targets, "decoder_input_ids": dec_ids,
        "logits_shape": list(logits.shape), "logits": [f32(v) for v in logits.flatten().tolist()],
        "greedy": greedy.tolist(),
    }
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("wrote", os.path.join(d, "expected.json"), list(logits.shape))
    return 0


def main():
    if len(sys.argv) > 1:
        return check_ours(sys.argv[1], write="--write" in sys.argv[2:])
    model = build()
    ids, mask, dec = torch.tensor(INPUT_IDS), torch.tensor(ATTENTION_MASK), torch.tensor(DECODER_INPUT_IDS)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        gen = model.generate(ids, attention_mask=mask, max_new_tokens=8, do_sample=False, num_beams=1,
                             decoder_start_token_id=1, eos_token_id=2, pad_token_id=0)
    assert torch.isfinite(logits).all()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        for f in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(tmp, f), os.path.join(OUT, f))
    expected = {
        "about": "transformers EncoderDecoderModel(BertModel, GPT2LMHeadModel); written by tools/hf-check/encdec_golden.py",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
        "input_ids": INPUT_IDS, "attention_mask": ATTENTION_MASK, "decoder_input_ids": DECODER_INPUT_IDS,
        "logits_shape": list(logits.shape), "logits": [f32(v) for v in logits.flatten().tolist()],
        "greedy": gen.tolist(),
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("wrote", OUT, list(logits.shape), gen.tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
