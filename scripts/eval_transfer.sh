#!/usr/bin/env bash
# Hold-out protocol (see tests/data/transfer/README.md): every KB under tests/data/transfer/
# is imported as a customer would (`devicekb import`), indexed with no tuning, and measured on
# the ticket sets written for it by someone who saw only that KB.
#
#   bash scripts/eval_transfer.sh            every KB, every set
#   bash scripts/eval_transfer.sh seed b     one KB, one set (tickets_b.jsonl)
#   CONFIRMED="a b c" bash scripts/eval_transfer.sh seed r
#                                            the KB after some use: sets a, b and c's covered
#                                            tickets as the desk's confirmed answers
#   UNHELPFUL=DIR CONFIRMED="a b c" bash scripts/eval_transfer.sh seed r
#                                            the same, and the automatic answers sets a, b
#                                            and c got wrong on the KB's first day (their
#                                            reports in DIR/<kb>/) marked unhelpful
#
# Reports go to target/transfer/<kb>/report_<set>.json; misses are printed with MISSES=1.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/devicekb}
OUT=${OUT:-target/transfer}
ONLY_KB=${1:-}
ONLY_SET=${2:-}
[ -x "$BIN" ] || { echo "error: $BIN is missing; run make build first" >&2; exit 1; }

for dir in tests/data/transfer/*/; do
  kb=$(basename "$dir")
  [ -z "$ONLY_KB" ] || [ "$ONLY_KB" = "$kb" ] || continue
  # kb.source: "<importer> <file>", the file relative to the KB's folder (or the repository).
  read -r importer source < "$dir/kb.source"
  file="$dir/$source"
  [ -f "$file" ] || file="$source"
  if [ ! -f "$file" ]; then
    echo "skip $kb: $source not found" >&2
    continue
  fi
  work="$OUT/$kb"
  rm -rf "$work/kb"
  mkdir -p "$work"
  case "$importer" in
    seed) "$BIN" import seed "$file" --out "$work/kb" ;;
    jsonl) "$BIN" import jsonl "$file" --out "$work/kb" --collection "$kb" ;;
    csv) "$BIN" import csv "$file" --out "$work/kb" --collection "$kb" ;;
    *) echo "error: $dir/kb.source: unknown importer $importer" >&2; exit 1 ;;
  esac
  if [ -n "${CONFIRMED:-}" ]; then
    sets=()
    for s in $CONFIRMED; do sets+=("$dir/tickets_$s.jsonl"); done
    python3 scripts/confirmed_from_sets.py ${UNHELPFUL:+--unhelpful "$UNHELPFUL/$kb"} "$work/kb" "${sets[@]}"
  fi
  "$BIN" reindex --kb "$work/kb" --data "$work/data"
  for tickets in "$dir"/tickets_*.jsonl; do
    set_name=$(basename "$tickets" .jsonl); set_name=${set_name#tickets_}
    [ -z "$ONLY_SET" ] || [ "$ONLY_SET" = "$set_name" ] || continue
    "$BIN" eval transfer "$tickets" --kb "$work/kb" --data "$work/data" \
      --json "$work/report_$set_name.json" ${MISSES:+--misses}
  done
done
