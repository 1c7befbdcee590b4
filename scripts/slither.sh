#!/usr/bin/env bash
# Static analysis of contracts/src with slither, on the compiler input the build itself uses
# (same sources, solc 0.8.37 through the solcjs adapter, optimizer, EVM london). Settings are in
# slither.config.json. Exits 0 when every finding is triaged in slither.db.json; each triaged
# finding is justified in docs/reliability.md ("Static analysis (slither)").
#
#   scripts/slither.sh                          run; fail on any finding not triaged
#   scripts/slither.sh --show-ignored-findings  list the triaged findings too (other arguments
#                                               go to slither as they are, e.g. --json FILE)
#   scripts/slither.sh --retriage               after an edit moved lines: re-key the triaged
#                                               findings whose text is unchanged but for line
#                                               numbers (slither's ids include them); a new or
#                                               changed finding stays untriaged for a human
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
mkdir -p build
# The build's own standard-JSON input, less its narrow outputSelection: with none given,
# crytic-compile asks for the AST and the source maps that slither needs.
"$PY" -m contracts.compiler input \
  | "$PY" -c 'import json, sys
spec = json.load(sys.stdin)
del spec["settings"]["outputSelection"]
json.dump(spec, sys.stdout, indent=1)' >build/slither-input.json
# crytic-compile 0.3 runs `solc` from PATH in solc-json mode (its --solc option only gives the
# version it records), so the solcjs adapter, itself named solc, goes first on PATH. That also
# keeps solc-select's `solc` shim in .venv/bin, which would try to download a compiler, out.
export PATH="$PWD/contracts/solc-adapter:$PATH"

if [ "${1:-}" != "--retriage" ]; then
  exec .venv/bin/slither build/slither-input.json "$@"
fi

.venv/bin/slither build/slither-input.json --show-ignored-findings \
  --json build/slither-all.json >/dev/null 2>&1 || true
"$PY" - <<'PYTHON'
import json
import re
import sys

def unlocated(description: str) -> str:
    return re.sub(r" \([^()]*\.sol#[0-9-]+\)", "", description)

report = json.load(open("build/slither-all.json", encoding="utf-8"))
if not report["success"]:
    sys.exit(f"slither failed: {report['error']}")
findings = report["results"].get("detectors", [])
triaged = json.load(open("slither.db.json", encoding="utf-8"))
known = {(entry["check"], unlocated(entry["description"])) for entry in triaged}
kept, new = [], []
for finding in findings:
    key = (finding["check"], unlocated(finding["description"]))
    entry = {name: finding[name] for name in ("check", "id", "description")}
    (kept if key in known else new).append(entry)
kept.sort(key=lambda entry: (entry["check"], entry["description"]))
with open("slither.db.json", "w", encoding="utf-8") as handle:
    json.dump(kept, handle, indent=2)
    handle.write("\n")
print(f"{len(kept)} triaged findings re-keyed, {len(triaged) - len(kept)} dropped (gone)")
for entry in new:
    print(f"NOT triaged ({entry['check']}): {entry['description'].splitlines()[0]}")
sys.exit(1 if new else 0)
PYTHON
