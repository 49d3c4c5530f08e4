"""safetensors.torch for the pure-Python stand-in (see safetensors/__init__.py)."""

import os

import torch

from ._format import SafetensorError, _parse_header, load_bytes, safe_open, save_bytes


def storage_ptr(tensor: torch.Tensor) -> int:
    try:
        return tensor.untyped_storage().data_ptr()  # torch >= 2.0
    except AttributeError:
        pass
    try:
        return tensor.storage().data_ptr()
    except NotImplementedError:
        return 0  # e.g. meta tensors


def storage_size(tensor: torch.Tensor) -> int:
    try:
        return tensor.untyped_storage().nbytes()  # torch >= 2.0
    except AttributeError:
        pass
    try:
        return tensor.storage().size() * tensor.element_size()
    except NotImplementedError:
        return tensor.nelement() * tensor.element_size()


def _shared_names(tensors):
    by_storage = {}
    for name, t in tensors.items():
        if t.device.type != "meta" and storage_ptr(t) != 0:
            by_storage.setdefault((t.device, storage_ptr(t), storage_size(t)), []).append(name)
    return [sorted(names) for names in by_storage.values() if len(names) > 1]


def save(tensors, metadata=None) -> bytes:
    return save_bytes(tensors, metadata)


def save_file(tensors, filename, metadata=None):
    shared = _shared_names(tensors)
    if shared:  # the real package refuses tensors that share memory too
        raise RuntimeError(f"Some tensors share memory, this will lead to duplicate memory on disk: {shared}")
    data = save_bytes(tensors, metadata)
    with open(os.fspath(filename), "wb") as f:
        f.write(data)


def load(data: bytes):
    return load_bytes(data)


def load_file(filename, device="cpu"):
    with safe_open(os.fspath(filename), framework="pt", device=device) as f:
        return {k: f.get_tensor(k) for k in f.keys()}


__all__ = ["SafetensorError", "safe_open", "save", "save_file", "load", "load_file", "storage_ptr", "storage_size"]
