#!/usr/bin/env bash
# Seed 000's study, every section at once: one `tmsphase run` process per experiment file of this
# directory (docs/general.md, "Seed 000's study"). Results (one stored file per SGD run, so an
# interrupted study resumes), the summary and one figure per run go to OUT/<section>/; logs to
# OUT/<section>.log. Usage (from the repository root):
#
#     bash docs/experiments/run_study.sh OUT [SECTION_TIMEOUT_S]
#
# Runs on CPUs (JAX_PLATFORMS=cpu unless set; the SGD and the SGLD chains are tiny tensor programs).
set -u
OUT=${1:?usage: run_study.sh OUT [SECTION_TIMEOUT_S]}
LIMIT=${2:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
export MPLBACKEND=Agg JAX_PLATFORMS=${JAX_PLATFORMS:-cpu}
cli() {
    if command -v tmsphase >/dev/null 2>&1; then tmsphase "$@"
    else python3 -c 'import sys; from theory.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; fi
}
pids=()
for f in "$HERE"/*.toml; do
    name=$(basename "$f" .toml)
    if [ "$LIMIT" -gt 0 ]; then
        ( timeout "$LIMIT" bash -c "$(declare -f cli); cli run '$f' --out '$OUT/$name' --workers 1 --no-progress" ) \
            > "$OUT/$name.log" 2>&1 &
    else
        cli run "$f" --out "$OUT/$name" --workers 1 --no-progress > "$OUT/$name.log" 2>&1 &
    fi
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for f in "$HERE"/*.toml; do name=$(basename "$f" .toml); echo "== $name"; tail -n 12 "$OUT/$name.log"; done
exit $status
