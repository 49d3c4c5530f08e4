#!/usr/bin/env python3
"""Write tiny random Hugging Face model directories (config.json + model.safetensors) for every head
`gptbert export onnx` supports, so that check.sh can export and check each kind. numpy only (Debian: python3-numpy).

Usage: make_models.py OUT_DIR      writes OUT_DIR/<Architecture>/ for each head.
Vocabularies are the built-in tokenizers' sizes (bert-base-uncased 30522, gpt2 50257): export with --tokenizer.
"""
import json
import os
import struct
import sys

import numpy as np

rng = np.random.default_rng(0)
H, L, NH, I, POS = 32, 2, 4, 64, 64


def tensor(*shape, ones=False):
    return (np.ones(shape) if ones else rng.normal(0, 0.02, shape)).astype(np.float32)


def save_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, t in tensors.items():
        data = np.ascontiguousarray(t).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def bert(prefix, pooler):
    p = prefix
    t = {f"{p}embeddings.word_embeddings.weight": tensor(30522, H), f"{p}embeddings.position_embeddings.weight": tensor(POS, H),
         f"{p}embeddings.token_type_embeddings.weight": tensor(2, H),
         f"{p}embeddings.LayerNorm.weight": tensor(H, ones=True), f"{p}embeddings.LayerNorm.bias": tensor(H)}
    for i in range(L):
        l = f"{p}encoder.layer.{i}."
        for name, (o, n) in {"attention.self.query": (H, H), "attention.self.key": (H, H), "attention.self.value": (H, H),
                             "attention.output.dense": (H, H), "intermediate.dense": (I, H), "output.dense": (H, I)}.items():
            t[l + name + ".weight"], t[l + name + ".bias"] = tensor(o, n), tensor(o)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[l + ln + ".weight"], t[l + ln + ".bias"] = tensor(H, ones=True), tensor(H)
    if pooler:
        t[f"{p}pooler.dense.weight"], t[f"{p}pooler.dense.bias"] = tensor(H, H), tensor(H)
    return t


def gpt2(prefix):
    p = prefix
    t = {f"{p}wte.weight": tensor(50257, H), f"{p}wpe.weight": tensor(POS, H),
         f"{p}ln_f.weight": tensor(H, ones=True), f"{p}ln_f.bias": tensor(H)}
    for i in range(L):
        l = f"{p}h.{i}."
        for name, (n, o) in {"attn.c_attn": (H, 3 * H), "attn.c_proj": (H, H), "mlp.c_fc": (H, 4 * H), "mlp.c_proj": (4 * H, H)}.items():
            t[l + name + ".weight"], t[l + name + ".bias"] = tensor(n, o), tensor(o)
        for ln in ("ln_1", "ln_2"):
            t[l + ln + ".weight"], t[l + ln + ".bias"] = tensor(H, ones=True), tensor(H)
    return t


def main(out):
    labels = {"id2label": {"0": "neg", "1": "pos", "2": "mixed"}, "label2id": {"neg": 0, "pos": 1, "mixed": 2}}
    bert_cfg = {"model_type": "bert", "vocab_size": 30522, "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": NH,
                "intermediate_size": I, "max_position_embeddings": POS, "hidden_act": "gelu", "pad_token_id": 0}
    gpt_cfg = {"model_type": "gpt2", "vocab_size": 50257, "n_embd": H, "n_layer": L, "n_head": NH, "n_positions": POS,
               "activation_function": "gelu_new", "bos_token_id": 50256, "eos_token_id": 50256}
    models = {
        "BertModel": (bert_cfg, bert("", True)),
        "BertForSequenceClassification": ({**bert_cfg, **labels}, {**bert("bert.", True), "classifier.weight": tensor(3, H), "classifier.bias": tensor(3)}),
        "BertForTokenClassification": ({**bert_cfg, **labels}, {**bert("bert.", False), "classifier.weight": tensor(3, H), "classifier.bias": tensor(3)}),
        "BertForMaskedLM": (bert_cfg, {**bert("bert.", False), "cls.predictions.bias": tensor(30522),
                                        "cls.predictions.transform.dense.weight": tensor(H, H), "cls.predictions.transform.dense.bias": tensor(H),
                                        "cls.predictions.transform.LayerNorm.weight": tensor(H, ones=True), "cls.predictions.transform.LayerNorm.bias": tensor(H)}),
        "BertForQuestionAnswering": (bert_cfg, {**bert("bert.", False), "qa_outputs.weight": tensor(2, H), "qa_outputs.bias": tensor(2)}),
        "GPT2Model": (gpt_cfg, gpt2("")),
        "GPT2LMHeadModel": (gpt_cfg, gpt2("transformer.")),
        "GPT2ForSequenceClassification": ({**gpt_cfg, **labels, "pad_token_id": 50256}, {**gpt2("transformer."), "score.weight": tensor(3, H)}),
    }
    for arch, (cfg, tensors) in models.items():
        d = os.path.join(out, arch)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({**cfg, "architectures": [arch]}, f, indent=2)
        save_safetensors(os.path.join(d, "model.safetensors"), tensors)
        print(d)


if __name__ == "__main__":
    main(sys.argv[1])
