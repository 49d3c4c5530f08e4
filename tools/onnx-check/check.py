#!/usr/bin/env python3
"""Validate ONNX exports written by `gptbert export onnx` with the `onnx` package (Debian: python3-onnx).

Usage: check.py DIR_OR_FILE...   (a directory means DIR/model.onnx, checked against DIR/onnx_config.json)

Per file: onnx.checker.check_model(model, full_check=True) (structure, types, strict shape inference), and, for a
directory, that the graph's inputs and outputs are exactly those onnx_config.json lists, with the same element types
and dimensions (sizes or axis names such as batch_size, sequence_length, past_sequence_length), and that the names are
the ones Hugging Face Optimum uses. Exit status 0 only when every file passed.
"""
import json
import os
import re
import sys

import onnx

ELEM = {onnx.TensorProto.INT64: "int64", onnx.TensorProto.FLOAT: "float32"}
OPTIMUM_NAMES = re.compile(
    r"^(input_ids|attention_mask|token_type_ids|position_ids|past_key_values\.\d+\.(key|value)|"
    r"last_hidden_state|pooler_output|logits|start_logits|end_logits|present\.\d+\.(key|value))$")


def describe(value_info):
    t = value_info.type.tensor_type
    dims = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in t.shape.dim]
    return {"name": value_info.name, "dtype": ELEM.get(t.elem_type, str(t.elem_type)), "shape": dims}


def check(path):
    directory = path if os.path.isdir(path) else None
    model_path = os.path.join(path, "model.onnx") if directory else path
    problems = []
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    inputs = [describe(i) for i in model.graph.input]
    outputs = [describe(o) for o in model.graph.output]
    for v in inputs + outputs:
        if not OPTIMUM_NAMES.match(v["name"]):
            problems.append(f"{v['name']} is not an Optimum input/output name")
    signature_path = os.path.join(directory, "onnx_config.json") if directory else None
    arch = "?"
    if signature_path and os.path.exists(signature_path):
        with open(signature_path) as f:
            signature = json.load(f)
        arch = signature["architecture"]
        for kind, actual in (("inputs", inputs), ("outputs", outputs)):
            if signature[kind] != actual:
                problems.append(f"onnx_config.json {kind} {signature[kind]} != graph {actual}")
        for needed in ("config.json",):
            if not os.path.exists(os.path.join(directory, needed)):
                problems.append(f"{needed} missing")
        if not any(os.path.exists(os.path.join(directory, t)) for t in ("vocab.txt", "vocab.json", "tokenizer.json")):
            problems.append("no tokenizer files")
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    ops = sorted({n.op_type for n in model.graph.node})
    status = "FAIL" if problems else "ok"
    print(f"{status}  {model_path}: {arch}, opset {opset}, IR {model.ir_version}, {len(model.graph.node)} nodes, "
          f"{len(model.graph.initializer)} initializers; inputs {[i['name'] for i in inputs]}; outputs {[o['name'] for o in outputs]}; ops {ops}")
    for p in problems:
        print(f"      {p}")
    return not problems


def main(argv):
    if not argv:
        print(__doc__.strip())
        return 2
    print(f"onnx {onnx.__version__} (checker opsets up to {onnx.defs.onnx_opset_version()}, IR {onnx.IR_VERSION})")
    ok = True
    for path in argv:
        try:
            ok &= check(path)
        except Exception as e:  # checker errors: report and go on with the other files
            print(f"FAIL  {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            ok = False
    print("all passed" if ok else "some failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
