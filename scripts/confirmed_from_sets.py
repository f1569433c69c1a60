#!/usr/bin/env python3
"""Writes a KB's confirmed/answers.jsonl from labelled ticket sets, as if the desk had
confirmed each covered ticket's expected entries (the transfer protocol's measure of a KB
after some use; see tests/data/transfer/README.md).

    python3 scripts/confirmed_from_sets.py [--unhelpful REPORT_DIR] KB_DIR SET.jsonl [SET.jsonl ...]

Labels naming an entry by title are mapped to its id through the KB's entry files.

With --unhelpful, REPORT_DIR holds each set's report of a run on the KB's first day
(`report_<set>.json`, as `devicekb eval transfer --json` writes it): every automatic answer
it got wrong becomes the customer's "not helpful" on that reply, the line's
`not_answered_by` (a ticket the KB does not cover gets a line of its own then).
"""
import glob
import json
import os
import sys
import tomllib


def main() -> None:
    args = sys.argv[1:]
    reports = None
    if args[:1] == ["--unhelpful"]:
        if len(args) < 2:
            sys.exit(__doc__)
        reports, args = args[1], args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    kb, sets = args[0], args[1:]
    title_to_id = {}
    for path in glob.glob(os.path.join(kb, "entries", "**", "*.toml"), recursive=True):
        with open(path, "rb") as f:
            entry = tomllib.load(f)
        title_to_id[entry["title"].strip()] = entry["id"]
    ids = set(title_to_id.values())
    out = os.path.join(kb, "confirmed", "answers.jsonl")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    written = unhelpful = 0
    with open(out, "w", encoding="utf-8") as w:
        for path in sets:
            wrong = wrong_answers(reports, path) if reports else {}
            with open(path, encoding="utf-8") as f:
                for line in f:
                    ticket = json.loads(line)
                    entries = [e if e in ids else title_to_id.get(e.strip()) for e in ticket["expected"]]
                    if not all(entries):
                        sys.exit(f"{path}: {ticket['id']} names an entry the KB lacks")
                    answer = {"text": ticket["text"], "entries": entries, "confirmed_by": "editor"}
                    if ticket["id"] in wrong:
                        answer["not_answered_by"] = [wrong[ticket["id"]]]
                        unhelpful += 1
                    if not entries and "not_answered_by" not in answer:
                        continue
                    w.write(json.dumps(answer, ensure_ascii=False) + "\n")
                    written += 1
    print(f"{out}: {written} lines from {len(sets)} sets ({unhelpful} with an unhelpful automatic answer)")


def wrong_answers(reports: str, set_path: str) -> dict:
    """Ticket id -> the entry its wrong automatic answer cited, from the set's report."""
    name = os.path.basename(set_path).removeprefix("tickets_").removesuffix(".jsonl")
    path = os.path.join(reports, f"report_{name}.json")
    if not os.path.exists(path):
        sys.exit(f"{path}: no first-day report for set {name}")
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    return {
        o["id"]: o["cited"]
        for o in report["outcomes"]
        if o["decision"] == "auto" and not o["right"] and o.get("cited")
    }


if __name__ == "__main__":
    main()
