"""Reading and writing the safetensors format in pure Python (see __init__.py)."""

import json
import struct
import sys

import torch

if sys.byteorder != "little":  # the format is little-endian; so is every machine this targets
    raise ImportError("the pure-Python safetensors stand-in only supports little-endian hosts")


class SafetensorError(Exception):
    pass


# safetensors dtype string -> (torch dtype, bytes per element)
_DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "I16": (torch.int16, 2),
    "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
_TORCH_TO_NAME = {v[0]: k for k, v in _DTYPES.items()}
# the order of the reference implementation's Dtype enum, restricted to the types above
_DTYPE_ORDER = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64"]

_MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's limit


def _parse_header(buf):
    if len(buf) < 8:
        raise SafetensorError("file too small to hold a safetensors header")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > _MAX_HEADER or 8 + n > len(buf):
        raise SafetensorError(f"invalid header length {n}")
    try:
        header = json.loads(bytes(buf[8 : 8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorError(f"invalid header JSON: {e}") from e
    if not isinstance(header, dict):
        raise SafetensorError("header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise SafetensorError("__metadata__ must map str to str")
    data_len = len(buf) - 8 - n
    entries = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorError(f"tensor {name!r}: entry must have exactly dtype, shape, data_offsets")
        dtype = info["dtype"]
        if dtype not in _DTYPES:
            raise SafetensorError(f"tensor {name!r}: unsupported dtype {dtype!r}")
        if not all(isinstance(d, int) and d >= 0 for d in info["shape"]):
            raise SafetensorError(f"tensor {name!r}: invalid shape {info['shape']!r}")
        shape = list(info["shape"])
        if len(info["data_offsets"]) != 2 or not all(isinstance(x, int) and x >= 0 for x in info["data_offsets"]):
            raise SafetensorError(f"tensor {name!r}: invalid data_offsets {info['data_offsets']!r}")
        begin, end = info["data_offsets"]
        numel = 1
        for d in shape:
            numel *= d
        if end < begin or end - begin != numel * _DTYPES[dtype][1]:
            raise SafetensorError(
                f"tensor {name!r}: data_offsets {[begin, end]} do not match dtype {dtype} and shape {shape}"
            )
        entries[name] = (dtype, shape, begin, end)
    # as the reference implementation (Metadata::validate): sorted by offsets, the tensors must
    # tile the byte buffer exactly, from 0 to its end, with no gap and no overlap
    pos = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if begin != pos:
            raise SafetensorError(f"invalid offset for tensor {name!r}: starts at {begin}, expected {pos}")
        pos = end
    if pos != data_len:
        raise SafetensorError(f"metadata incomplete buffer: tensors cover {pos} bytes, the file has {data_len}")
    return entries, metadata, 8 + n


def _to_tensor(data, dtype, shape):
    tdtype, size = _DTYPES[dtype]
    if len(data) == 0:
        return torch.empty(shape, dtype=tdtype)
    # bytearray -> writable buffer, so the tensor owns a private copy
    return torch.frombuffer(bytearray(data), dtype=tdtype).reshape(shape)


class _Slice:
    """What safe_open(...).get_slice(name) returns: shape/dtype, and indexing that loads the tensor."""

    def __init__(self, loader, dtype, shape):
        self._loader, self._dtype, self._shape = loader, dtype, shape

    def get_shape(self):
        return list(self._shape)

    def get_dtype(self):
        return self._dtype

    def __getitem__(self, index):
        return self._loader()[index]


class safe_open:  # noqa: N801 - same name as the real API
    """safe_open(filename, framework="pt", device="cpu"); usable as a context manager."""

    def __init__(self, filename, framework="pt", device="cpu"):
        if framework not in ("pt", "torch", "pytorch"):
            raise SafetensorError(f"framework {framework!r} is not supported by the pure-Python stand-in (only 'pt')")
        with open(filename, "rb") as f:
            self._buf = memoryview(f.read())
        self._entries, self._metadata, self._start = _parse_header(self._buf)
        self._device = device

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def keys(self):
        return sorted(self._entries)

    def offset_keys(self):
        return sorted(self._entries, key=lambda k: self._entries[k][2])

    def metadata(self):
        return self._metadata

    def get_tensor(self, name):
        if name not in self._entries:
            raise SafetensorError(f"File does not contain tensor {name}")
        dtype, shape, begin, end = self._entries[name]
        t = _to_tensor(self._buf[self._start + begin : self._start + end], dtype, shape)
        return t if self._device in (None, "cpu") else t.to(self._device)

    def get_slice(self, name):
        if name not in self._entries:
            raise SafetensorError(f"File does not contain tensor {name}")
        dtype, shape, _, _ = self._entries[name]
        return _Slice(lambda: self.get_tensor(name), dtype, shape)


def load_bytes(data):
    entries, _, start = _parse_header(memoryview(data))
    mv = memoryview(data)
    return {name: _to_tensor(mv[start + b : start + e], dt, shape) for name, (dt, shape, b, e) in entries.items()}


def _tensor_bytes(t):
    t = t.detach().to("cpu").contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)  # same element size; numpy has no bfloat16
    return t.numpy().tobytes()


def save_bytes(tensors, metadata=None):
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorError("metadata keys and values must be str")
    # as the reference implementation (safetensors::serialize): by dtype, in the reverse order of
    # its Dtype enum (so 8-byte types first), then by name
    items = []
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise SafetensorError(f"{name!r} is not a torch.Tensor")
        if t.dtype not in _TORCH_TO_NAME:
            raise SafetensorError(f"{name!r}: dtype {t.dtype} is not supported")
        items.append((name, t))
    items.sort(key=lambda kv: (-_DTYPE_ORDER.index(_TORCH_TO_NAME[kv[1].dtype]), kv[0]))
    header, chunks, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    for name, t in items:
        b = _tensor_bytes(t)
        header[name] = {"dtype": _TORCH_TO_NAME[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(chunks)
