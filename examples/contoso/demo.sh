#!/usr/bin/env bash
# The Contoso walk-through that `make demo` runs: plan, apply, re-plan (no changes), then the
# tutorial's own az commands as live state, whose mistake the plan corrects.
set -euo pipefail
HSMSYNC="${HSMSYNC:-hsmsync}"
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-out/demo}"
mkdir -p "$OUT"
MANIFEST="$HERE/hsmsync.yaml"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "validate the manifest"
"$HSMSYNC" validate -f "$MANIFEST"

step "plan against an HSM fresh from creation (fake state $OUT/state.json)"
cp "$HERE/empty-state.json" "$OUT/state.json"
"$HSMSYNC" plan -f "$MANIFEST" --state "$OUT/state.json"

step "apply"
"$HSMSYNC" apply -f "$MANIFEST" --state "$OUT/state.json" --auto-approve

step "plan again: nothing left to change (exit code 0 with --detailed-exitcode)"
"$HSMSYNC" plan -f "$MANIFEST" --state "$OUT/state.json" --detailed-exitcode

step "plan against what the tutorial's az commands produce: the VM identity got Crypto Auditor, not Crypto User"
"$HSMSYNC" plan -f "$MANIFEST" --state "$HERE/live-as-tutorial.json"

step "export what the tutorial's commands left behind, then plan that export against it: no changes"
"$HSMSYNC" export --state "$HERE/live-as-tutorial.json" -o "$OUT/exported.yaml"
head -20 "$OUT/exported.yaml"
echo "  ..."
"$HSMSYNC" plan -f "$OUT/exported.yaml" --state "$HERE/live-as-tutorial.json" --detailed-exitcode

step "who can sign once the groups have members (live-with-groups.json): nested groups, a PIM-eligible admin, who can obtain it"
"$HSMSYNC" whocan sign --hsm contoso -f "$MANIFEST" --state "$HERE/live-with-groups.json"

# The same through the live backend: the real Azure SDK clients over HTTPS, against the local
# emulator of Managed HSM + ARM serving a copy of the fresh HSM.
step "start the local Managed HSM + ARM emulator (with its token service)"
# The emulator signs in only who its state's `sign_in` section names: here the pipeline's
# application, with a client secret (stored as its SHA-256), as the initial administrator.
DEMO_SECRET="demo-only-secret-not-for-real-use"
python3 - "$HERE/empty-state.json" "$OUT/emulated.json" "$DEMO_SECRET" <<'PY'
import hashlib, json, sys
state = json.load(open(sys.argv[1]))
admin = state["hsms"]["contoso"]["initial_admin_object_ids"][0]
state["sign_in"] = {"applications": [{
    "client_id": "5e0c3f7a-0000-4000-8000-00000000de70", "object_id": admin,
    "display_name": "hsmsync pipeline (demo)",
    "client_secret_sha256": [hashlib.sha256(sys.argv[3].encode()).hexdigest()]}]}
json.dump(state, open(sys.argv[2], "w"), indent=2)
PY
export AZURE_TENANT_ID=72f988bf-86f1-41af-91ab-2d7cd011db47
export AZURE_CLIENT_ID=5e0c3f7a-0000-4000-8000-00000000de70
export AZURE_CLIENT_SECRET="$DEMO_SECRET"
rm -f "$OUT/endpoints.json"
"$HSMSYNC" emulator --state "$OUT/emulated.json" --endpoints-out "$OUT/endpoints.json" > "$OUT/emulator.log" 2>&1 &
EMULATOR_PID=$!
# SIGTERM: the emulator shuts down cleanly and removes its temp folder; wait until it has.
trap 'kill $EMULATOR_PID 2>/dev/null && wait $EMULATOR_PID; true' EXIT
for _ in $(seq 1 100); do [ -s "$OUT/endpoints.json" ] && break; sleep 0.1; done
cat "$OUT/emulator.log"

step "plan --live against the emulator"
"$HSMSYNC" plan -f "$MANIFEST" --live --endpoints "$OUT/endpoints.json"

step "apply --live (paced by the emulator's 5 RBAC operations per second, like the service)"
"$HSMSYNC" apply -f "$MANIFEST" --live --endpoints "$OUT/endpoints.json" --auto-approve

step "plan --live again: nothing left to change"
"$HSMSYNC" plan -f "$MANIFEST" --live --endpoints "$OUT/endpoints.json" --detailed-exitcode
