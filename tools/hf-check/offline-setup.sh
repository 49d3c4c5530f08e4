#!/usr/bin/env bash
# Offline stand-in for `pip install transformers safetensors`, for machines without a Python
# package index (see README.md). Needs Debian's python3-torch, python3-numpy, python3-regex,
# python3-tqdm, python3-filelock, python3-fsspec, python3-typing-extensions, python3-requests,
# python3-packaging, python3-yaml, and local git copies of the two repositories.
#
#   tools/hf-check/offline-setup.sh TRANSFORMERS_GIT_DIR HUB_GIT_DIR [DEST]
#
# extracts transformers at commit 1248f0925234f97da9eee98da2aa22f7b8dbeda1 (4.40.0.dev0: main
# right after the v4.39 release branch) and huggingface_hub v0.22.2 into DEST (default /tmp/hf),
# and prints the environment to use with check.py.
set -euo pipefail
TR_GIT=${1:?transformers git dir}; HUB_GIT=${2:?huggingface_hub git dir}; DEST=${3:-/tmp/hf}
TR_COMMIT=1248f0925234f97da9eee98da2aa22f7b8dbeda1
HUB_REF=v0.22.2; HUB_VERSION=0.22.2
HERE=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$DEST/transformers" "$DEST/huggingface_hub"
git --git-dir="$TR_GIT" archive "$TR_COMMIT" src | tar -x -C "$DEST/transformers"
git --git-dir="$HUB_GIT" archive "$HUB_REF" src | tar -x -C "$DEST/huggingface_hub"
# transformers checks "huggingface-hub>=0.19.3,<1.0" through importlib.metadata at import time;
# a source tree on PYTHONPATH has no metadata, so give it some
DI="$DEST/huggingface_hub/src/huggingface_hub-$HUB_VERSION.dist-info"
mkdir -p "$DI"
printf 'Metadata-Version: 2.1\nName: huggingface_hub\nVersion: %s\n' "$HUB_VERSION" > "$DI/METADATA"

echo "export PYTHONPATH=$DEST/transformers/src:$DEST/huggingface_hub/src:$HERE/shim HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1"
