"""Where a model puts translations and look-alikes, to choose its glossary cut.

    python scripts/glossary_cut.py MODEL_DIR

MODEL_DIR is a devicekb model directory (model.onnx, tokenizer.json, devicekb-model.toml).
Needs numpy, onnxruntime and tokenizers (the EmbeddingGemma converter's environment has
them: ~/.cache/devicekb/gemma-venv/bin/python). Each word is embedded alone with the
model's query prefix and mean pooling, as the glossary does at reindex, and the script
prints the cosine of English-French translation pairs (which the glossary should find), of
look-alike pairs (same spelling, another meaning, which it should not) and of random
pairs of those words, with how many of each a few cuts let through. The lists are general
vocabulary, written apart from any KB or ticket set; they are not a test set.
"""

import random
import sys
import tomllib
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

TRANSLATIONS = [
    ("deadline", "délai"), ("wedding", "mariage"), ("car", "voiture"),
    ("refund", "remboursement"), ("landlord", "propriétaire"), ("tenant", "locataire"),
    ("printer", "imprimante"), ("paper", "papier"), ("jam", "bourrage"), ("driver", "pilote"),
    ("invoice", "facture"), ("tax", "impôt"), ("birth", "naissance"), ("passport", "passeport"),
    ("unemployment", "chômage"), ("pension", "retraite"), ("rent", "loyer"),
    ("screen", "écran"), ("ink", "encre"), ("warranty", "garantie"), ("license", "permis"),
    ("fine", "amende"), ("loan", "prêt"), ("health", "santé"), ("school", "école"),
    ("job", "emploi"), ("salary", "salaire"), ("lawyer", "avocat"), ("court", "tribunal"),
]
LOOK_ALIKES = [
    ("fine", "finlande"), ("invoice", "invoqué"), ("car", "carte"), ("rent", "rentrée"),
    ("pain", "peinture"), ("library", "librairie"), ("actual", "actuel"),
    ("eventually", "éventuellement"), ("money", "monnaie"), ("journey", "journée"),
    ("affair", "affaire"), ("deception", "déception"), ("ink", "inquiet"), ("jam", "jambe"),
    ("tax", "taxi"), ("court", "courrier"), ("loan", "lointain"), ("birth", "berthe"),
    ("screen", "scrutin"),
]
CUTS = [0.75, 0.80, 0.85, 0.90, 0.93, 0.95]


def main(model_dir: Path) -> None:
    spec = tomllib.loads((model_dir / "devicekb-model.toml").read_text())
    prefix = spec.get("query_prefix", "")
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    options = ort.SessionOptions()
    options.add_session_config_entry("session.x64quantprecision", "1")
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    cache: dict[str, np.ndarray] = {}

    def embed(word: str) -> np.ndarray:
        if word not in cache:
            enc = tokenizer.encode(prefix + word)
            ids = np.array([enc.ids], dtype=np.int64)
            mask = np.array([enc.attention_mask], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = session.run(None, feed)[0][0]
            if spec.get("pooling", "mean") == "cls":
                vector = hidden[0]
            else:
                vector = (hidden * mask[0][:, None]).sum(0) / mask.sum()
            cache[word] = vector / np.linalg.norm(vector)
        return cache[word]

    def cosines(pairs):
        return sorted((float(embed(a) @ embed(b)), a, b) for a, b in pairs)

    words = sorted({w for pair in TRANSLATIONS + LOOK_ALIKES for w in pair})
    rng = random.Random(1)
    unrelated = [(rng.choice(words), rng.choice(words)) for _ in range(200)]
    unrelated = [(a, b) for a, b in unrelated if a != b]
    print(f"model: {spec.get('name')} ({model_dir})")
    for label, pairs in (("translations", TRANSLATIONS), ("look-alikes", LOOK_ALIKES)):
        found = cosines(pairs)
        print(f"{label}: " + ", ".join(f"{a}/{b} {c:.3f}" for c, a, b in found))
    background = np.array([c for c, _, _ in cosines(unrelated)])
    print("random pairs: median %.3f, 90th percentile %.3f, 99th %.3f"
          % tuple(np.percentile(background, [50, 90, 99])))
    print("cut    translations  look-alikes  random pairs")
    for cut in CUTS:
        t = sum(c >= cut for c, _, _ in cosines(TRANSLATIONS))
        a = sum(c >= cut for c, _, _ in cosines(LOOK_ALIKES))
        r = float((background >= cut).mean())
        print(f"{cut:.2f}   {t:2d}/{len(TRANSLATIONS)}         {a:2d}/{len(LOOK_ALIKES)}        {r:.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: glossary_cut.py MODEL_DIR")
    main(Path(sys.argv[1]))
