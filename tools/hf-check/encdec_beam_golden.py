#!/usr/bin/env python3
"""Beam-search golden fixture for GptBert's encoder-decoder (bert2gpt2), made by transformers' generate().

Writes tests/GptBert.Tests/Pipelines/Golden/encdec-beam/{config.json, model.safetensors, expected.json}: a tiny
transformers EncoderDecoderModel (BertModel 48 wide, GPT2LMHeadModel 32 wide with add_cross_attention, so
enc_to_dec_proj exists) with a small vocabulary (12 tokens, eos = 9, a token it often picks), so that end-of-text is often among the beam
candidates and hypotheses finish at different lengths; then, for several unpadded sources and beam settings,
generate(num_beams=N, length_penalty=L, early_stopping=E, max_new_tokens=M, repetition_penalty=P) with output_scores,
and greedy generation without a penalty (repetition_penalty 1.5 in most beam cases: a random tiny decoder with a tied head
otherwise repeats one token; transformers applies it to logits in greedy search and to log-probabilities in beam search).
Seq2SeqBeamTests loads the directory with GptBert and compares ids token for token and scores at 1e-4.
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
OUT = os.path.join(REPO, "tests", "GptBert.Tests", "Pipelines", "Golden", "encdec-beam")
SEED = 20261205
VOCAB = 12
EOS = 9  # a token this random decoder often picks, so hypotheses finish at different lengths
SOURCES = [[5, 9, 3, 11, 7], [4, 4, 10], [8, 3, 6, 9, 10, 5, 11], [6]]
SETTINGS = [
    {"num_beams": 3, "length_penalty": 1.0, "early_stopping": False, "max_new_tokens": 8, "repetition_penalty": 1.5},
    {"num_beams": 4, "length_penalty": 0.5, "early_stopping": False, "max_new_tokens": 10, "repetition_penalty": 1.5},
    {"num_beams": 2, "length_penalty": 2.0, "early_stopping": True, "max_new_tokens": 6, "repetition_penalty": 1.5},
    {"num_beams": 5, "length_penalty": -1.0, "early_stopping": False, "max_new_tokens": 7, "repetition_penalty": 1.5},
    {"num_beams": 3, "length_penalty": 1.0, "early_stopping": False, "max_new_tokens": 8, "repetition_penalty": 1.0},
]


def build():
    torch.manual_seed(SEED)
    enc = BertConfig(vocab_size=VOCAB, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                     max_position_embeddings=32, hidden_dropout_prob=0, attention_probs_dropout_prob=0,
                     pad_token_id=0, initializer_range=0.3)
    dec = GPT2Config(vocab_size=VOCAB, n_positions=32, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0, embd_pdrop=0,
                     attn_pdrop=0, bos_token_id=1, eos_token_id=EOS, pad_token_id=0, initializer_range=0.15)
    cfg = EncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    cfg.decoder_start_token_id = 1
    cfg.pad_token_id = 0
    model = EncoderDecoderModel(config=cfg)
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():  # non-trivial biases and LayerNorm weights, and live cross-attention
        for name, p in model.named_parameters():
            if name.endswith(".bias") or "ln_" in name or "LayerNorm" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


def main():
    model = build()
    cases = []
    with torch.no_grad():
        for src in SOURCES:
            ids = torch.tensor([src])
            greedy = model.generate(ids, max_new_tokens=8, do_sample=False, num_beams=1,
                                    decoder_start_token_id=1, eos_token_id=EOS, pad_token_id=0)
            for s in SETTINGS:
                out = model.generate(ids, do_sample=False, decoder_start_token_id=1, eos_token_id=EOS, pad_token_id=0,
                                     return_dict_in_generate=True, output_scores=True, **s)
                cases.append({"source": src, **s, "sequence": out.sequences[0].tolist(),
                              "score": float(out.sequences_scores[0]), "greedy": greedy[0].tolist()})
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        for f in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(tmp, f), os.path.join(OUT, f))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"about": "transformers EncoderDecoderModel.generate(num_beams); written by tools/hf-check/encdec_beam_golden.py",
                   "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
                   "cases": cases}, f, indent=1)
    for c in cases:
        print(c["source"], c["num_beams"], c["repetition_penalty"], c["length_penalty"], c["early_stopping"], c["sequence"], round(c["score"], 4), c["greedy"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
