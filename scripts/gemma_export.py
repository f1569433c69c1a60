"""Export EmbeddingGemma-300M to the ONNX layout devicekb loads (see setup_gemma.sh).

The sentence-transformers model is: the Gemma3 encoder, mean pooling, two bias-free linear
layers (768 -> 3072 -> 768), L2 normalisation. devicekb mean-pools a model's per-token output
and normalises, and a linear map commutes with the mean, so the two linear layers are applied
to every token inside the graph: the product's own pooling then gives exactly the model's
sentence vector. The attention mask is passed to the encoder as a ready additive mask for both
of its attention kinds (bidirectional; the 512-token sliding window never binds, since
devicekb truncates inputs at 512 tokens), which keeps the trace free of the mask builder's vmap.

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


class PerToken(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.first, self.second = body, first, second

    def forward(self, input_ids, attention_mask):
        mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -3.0e38
        hidden = self.body(
            input_ids=input_ids,
            attention_mask={"full_attention": mask, "sliding_attention": mask},
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
quantize_dynamic(f"{out}/model_f32.onnx", f"{out}/model.onnx", weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"])

# Check: the int8 graph, pooled as devicekb pools one text, against sentence-transformers.
import onnxruntime as ort

session = ort.InferenceSession(f"{out}/model.onnx")
texts = [
    "task: search result | query: bourrage papier dans le bac 2 depuis ce matin",
    "title: none | text: Pour changer le nom d'usage après un divorce, il faut l'accord de l'ex-conjoint ou du juge.",
    "task: search result | query: my printer shows a blank display with diamonds",
]
reference = st.encode(texts, normalize_embeddings=True)
worst = 1.0
for text, ref in zip(texts, reference):
    ids = np.array([st.tokenizer(text)["input_ids"]], dtype=np.int64)
    hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
    vector = hidden.mean(0)
    vector /= np.linalg.norm(vector)
    worst = min(worst, float(vector @ ref))
print(f"int8 against the reference model: worst cosine {worst:.4f}")
if worst < 0.97:
    sys.exit("the exported model does not reproduce the reference model's vectors")
