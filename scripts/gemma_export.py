"""Export EmbeddingGemma-300M to the ONNX layout devicekb loads (see setup_gemma.sh).

The sentence-transformers model is: the Gemma3 encoder, mean pooling, two bias-free linear
layers (768 -> 3072 -> 768), L2 normalisation. devicekb mean-pools a model's per-token output
and normalises, and a linear map commutes with the mean, so the two linear layers are applied
to every token inside the graph: the product's own pooling then gives exactly the model's
sentence vector. The attention mask is passed to the encoder as a ready additive mask for both
attention kind, which keeps the trace free of the mask builder's vmap: the global layers see
every token, the sliding-window layers (20 of 24) only tokens fewer than `sliding_window`
positions away (257 once transformers turns the configured 512 into a two-sided window).

usage: python gemma_export.py MODEL_DOWNLOAD_DIR OUT_DIR
"""
import sys

import numpy as np
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from sentence_transformers import SentenceTransformer

src, out = sys.argv[1], sys.argv[2]
torch.set_num_threads(2)
st = SentenceTransformer(src, device="cpu")
body = st[0].auto_model.eval()
body.config._attn_implementation = "eager"
first, second = st[2].linear, st[3].linear
# The per-token trick needs linear layers: no bias, no activation.
for dense in (st[2], st[3]):
    assert dense.linear.bias is None, "a Dense layer has a bias"
    assert isinstance(dense.activation_function, torch.nn.Identity), "a Dense layer has an activation"
WINDOW = int(body.config.sliding_window)
NEG = -1.0e38  # twice this still fits in f32


class PerToken(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.first, self.second = body, first, second

    def forward(self, input_ids, attention_mask):
        padding = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * NEG
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        distance = (positions[:, None] - positions[None, :]).abs()
        outside = (distance >= WINDOW).to(torch.float32)[None, None, :, :] * NEG
        hidden = self.body(
            input_ids=input_ids,
            attention_mask={"full_attention": padding, "sliding_attention": padding + outside},
        ).last_hidden_state
        return self.second(self.first(hidden))


model = PerToken().eval()
sample = st.tokenizer(["task: search result | query: l'imprimante affiche 31 Cartouche défectueuse"], return_tensors="pt")
with torch.no_grad():
    torch.onnx.export(
        model,
        (sample["input_ids"], sample["attention_mask"]),
        f"{out}/model_f32.onnx",
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state"],
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in ["input_ids", "attention_mask", "last_hidden_state"]},
        opset_version=17,
        dynamo=False,
    )
quantize_dynamic(
    f"{out}/model_f32.onnx",
    f"{out}/model.onnx",
    weight_type=QuantType.QInt8,
    op_types_to_quantize=["MatMul", "Gather"],
)  # per_channel=True was tried: worst cosine 0.22, broken

# Check: each graph, fed the ids devicekb's tokenizer (tokenizer.json) makes and pooled as
# devicekb pools one text, against sentence-transformers; a long text crosses the window.
import onnxruntime as ort
from tokenizers import Tokenizer

tokenizer = Tokenizer.from_file(f"{src}/tokenizer.json")
long_text = " ".join(
    ["Bonjour, depuis la mise à jour de lundi l'imprimante du deuxième étage affiche un bourrage papier"
     " dans le bac 2 alors qu'il n'y a rien dedans, nous avons ouvert toutes les trappes sans succès."] * 9
)
texts = [
    "task: search result | query: bourrage papier dans le bac 2 depuis ce matin",
    "title: none | text: Pour changer le nom d'usage après un divorce, il faut l'accord de l'ex-conjoint ou du juge.",
    "task: search result | query: my printer shows a blank display with diamonds",
    "task: search result | query: " + long_text,
]
reference = st.encode(texts, normalize_embeddings=True)
ids_of = []
for text in texts:
    ids = tokenizer.encode(text).ids
    want = st.tokenizer(text)["input_ids"]
    assert ids == want, f"tokenizer.json and the reference tokenizer differ on {text[:40]!r}"
    ids_of.append(ids)
assert WINDOW + 50 < len(ids_of[-1]) <= 512, f"the long text has {len(ids_of[-1])} tokens"


def worst_cosine(path):
    session = ort.InferenceSession(path)
    worst = 1.0
    for ids, ref in zip(ids_of, reference):
        ids = np.array([ids], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
        vector = hidden.mean(0)
        vector /= np.linalg.norm(vector)
        worst = min(worst, float(vector @ ref))
    return worst


exact = worst_cosine(f"{out}/model_f32.onnx")
print(f"f32 graph against the reference model: worst cosine {exact:.6f}")
if exact < 0.9999:
    sys.exit("the exported graph does not compute the reference model")
rounded = worst_cosine(f"{out}/model.onnx")
print(f"int8 graph against the reference model: worst cosine {rounded:.4f}")
# int8 moves vectors: measured 0.976-0.988 on short texts, 0.943 on the 441-token one.
if rounded < 0.93:
    sys.exit("the int8 model is too far from the reference model")
