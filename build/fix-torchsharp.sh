#!/usr/bin/env bash
# Makes TorchSharp 0.107's native wrapper load on systems whose libstdc++ predates GLIBCXX_3.4.32
# (Debian 12, Ubuntu 22.04). Patches a copy inside the NuGet package folder (the original is kept
# as libLibTorchSharp.so.orig); never touches system libraries. Idempotent and quick when done.
# See README.md, "TorchSharp on Debian 12".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ "$(uname -s)" = Linux ] || exit 0

# awk reads all of ldconfig's output (no early exit): under pipefail an early exit would SIGPIPE ldconfig.
libstdcxx="$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found = 1}' || true)"
libstdcxx="${libstdcxx:-/lib/x86_64-linux-gnu/libstdc++.so.6}"
if grep -qa 'GLIBCXX_3\.4\.32' "$libstdcxx" 2>/dev/null; then exit 0; fi

pkgs="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
native="$pkgs/torchsharp/0.107.0/runtimes/linux-x64/native"
wrapper="$native/libLibTorchSharp.so"
shim="$native/libgptbert_iosinit.so"
if [ ! -f "$wrapper" ]; then
  echo "fix-torchsharp: $wrapper not found; run 'dotnet restore' first" >&2; exit 1
fi
if [ -f "$wrapper.orig" ] && [ -f "$shim" ] && [ -f "$native/.gptbert-patched" ]; then exit 0; fi

# Parallel project builds may all get here: one patches, the others wait and find it done.
exec 9>"$native/.gptbert-patch.lock"
flock 9
if [ -f "$native/.gptbert-patched" ]; then exit 0; fi

echo "fix-torchsharp: system libstdc++ lacks GLIBCXX_3.4.32; patching TorchSharp's wrapper (once)"
need=()
command -v patchelf >/dev/null || need+=(patchelf)
command -v g++ >/dev/null || need+=(g++)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get install -y -qq "${need[@]}" >/dev/null 2>&1) || (apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null)
  else
    echo "fix-torchsharp: please install: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2; exit 1
  fi
fi

[ -f "$wrapper.orig" ] || cp -p "$wrapper" "$wrapper.orig"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp "$wrapper.orig" "$work/libLibTorchSharp.so"
g++ -shared -fPIC -O2 -o "$work/libgptbert_iosinit.so" "$here/ios_base_shim.cpp"
dotnet run --file "$here/ElfPatch.cs" -- "$work/libLibTorchSharp.so" GLIBCXX_3.4.32 _ZSt21ios_base_library_initv
patchelf --add-needed libgptbert_iosinit.so "$work/libLibTorchSharp.so"
cp "$work/libgptbert_iosinit.so" "$shim.tmp" && mv "$shim.tmp" "$shim"
cp "$work/libLibTorchSharp.so" "$wrapper.tmp" && mv "$wrapper.tmp" "$wrapper"
touch "$native/.gptbert-patched"
echo "fix-torchsharp: done ($wrapper)"
