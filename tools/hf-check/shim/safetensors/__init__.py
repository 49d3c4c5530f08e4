"""Pure-Python stand-in for the `safetensors` package (GptBert tools/hf-check/shim).

Only for machines where the real package (a Rust extension) cannot be installed.
It implements the file format from the safetensors specification:

    8 bytes   little-endian unsigned 64-bit N: length of the header
    N bytes   UTF-8 JSON header: {"TENSOR": {"dtype": "F32", "shape": [..],
              "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
              (may be padded with trailing spaces)
    rest      the byte buffer; data_offsets are relative to its start

and the subset of the API that Hugging Face `transformers` uses with PyTorch:
`safe_open(path, framework="pt")` (keys, get_tensor, get_slice, metadata),
`safetensors.torch.load_file/save_file/load/save`, `storage_ptr`, `storage_size`.
With the real package installed, do not put this folder on PYTHONPATH.
"""

__version__ = "0.4.1+purepython"

from ._format import SafetensorError, safe_open  # noqa: F401
