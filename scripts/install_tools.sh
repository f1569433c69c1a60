#!/usr/bin/env bash
# Installs the system tools `make setup` needs when they are missing: a Rust toolchain
# (rustup's, if none), Python 3 with venv and pip, a C and C++ compiler, and cmake (the
# real-LLM test builds llama.cpp's server). Uses Debian's
# packages; without root it only says what is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh"

missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
# llama.cpp's server, for the real-LLM test (scripts/setup_llm.sh)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)

apt_install install_tools "${missing[@]}"

if ! command -v cargo >/dev/null 2>&1; then
  if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    echo "install_tools: cargo is in ~/.cargo/bin; add it to PATH (source ~/.cargo/env)" >&2
  else
    echo "install_tools: error: no Rust toolchain; install one with rustup (https://rustup.rs) or your package manager" >&2
  fi
  exit 1
fi
