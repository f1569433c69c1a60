#!/usr/bin/env python3
"""Writes a KB's confirmed/answers.jsonl from labelled ticket sets, as if the desk had
confirmed each covered ticket's expected entries (the transfer protocol's measure of a KB
after some use; see tests/data/transfer/README.md).

    python3 scripts/confirmed_from_sets.py KB_DIR SET.jsonl [SET.jsonl ...]

Labels naming an entry by title are mapped to its id through the KB's entry files.
"""
import glob
import json
import os
import sys
import tomllib


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    kb, sets = sys.argv[1], sys.argv[2:]
    title_to_id = {}
    for path in glob.glob(os.path.join(kb, "entries", "**", "*.toml"), recursive=True):
        with open(path, "rb") as f:
            entry = tomllib.load(f)
        title_to_id[entry["title"].strip()] = entry["id"]
    ids = set(title_to_id.values())
    out = os.path.join(kb, "confirmed", "answers.jsonl")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    written = 0
    with open(out, "w", encoding="utf-8") as w:
        for path in sets:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    ticket = json.loads(line)
                    entries = [e if e in ids else title_to_id.get(e.strip()) for e in ticket["expected"]]
                    if not entries:
                        continue
                    if not all(entries):
                        sys.exit(f"{path}: {ticket['id']} names an entry the KB lacks")
                    answer = {"text": ticket["text"], "entries": entries, "confirmed_by": "editor"}
                    w.write(json.dumps(answer, ensure_ascii=False) + "\n")
                    written += 1
    print(f"{out}: {written} confirmed answers from {len(sets)} sets")


if __name__ == "__main__":
    main()
