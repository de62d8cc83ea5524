#!/bin/sh
# make regress-demo: a change of the model's code caught by `rdrsim regress`.
# The baseline is the ordinary build; the "new" build was compiled with
# -DRDRSIM_REGRESS_DEMO, a deliberate regression (the server serves every
# CREATE 30 ms later).  Both run the bundled oplock-break scenario over the
# same 6 seeds; compare flags the open latency.  With --check it is a test:
# the regression must be flagged (exit 1), and the baseline against itself
# must pass (exit 0).
build=${1:-build}
check=${2:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
new="$build/regress-demo/rdrsim"
"$new" regress --baseline "$build/rdrsim" --runs 6 -j 2 -q -o "$out" --metric 'op.*' scenarios/oplock-break.rsim \
    >"$out/changed.txt" 2>&1
changed=$?
[ -n "$check" ] || { cat "$out/changed.txt"; exit 0; }
"$build/rdrsim" regress --baseline "$build/rdrsim" --runs 6 -j 2 -q -o "$out" scenarios/oplock-break.rsim \
    >"$out/same.txt" 2>&1
same=$?
"$build/rdrsim" regress --baseline /bin/true scenarios/oplock-break.rsim >"$out/notrdrsim.txt" 2>&1
notrdrsim=$?
fail=0
[ "$notrdrsim" -eq 2 ] && grep -q 'not an rdrsim' "$out/notrdrsim.txt" ||
    { echo "a baseline that is not an rdrsim: exit $notrdrsim, expected 2"; fail=1; }
[ "$changed" -eq 1 ] || { echo "the regressed build: exit $changed, expected 1"; fail=1; }
grep -q 'op.open.p50_ns .*REGRESSION' "$out/changed.txt" || { echo "op.open.p50_ns not flagged"; fail=1; }
grep -q '1 with a regression' "$out/changed.txt" || { echo "no summary of the regression"; fail=1; }
[ "$same" -eq 0 ] || { echo "the build against itself: exit $same, expected 0"; fail=1; }
grep -q 'the traces do not diverge' "$out/same.txt" || { echo "the same build's traces diverge"; fail=1; }
if [ "$fail" -ne 0 ]; then
    echo "--- regressed build"; cat "$out/changed.txt"; echo "--- same build"; cat "$out/same.txt"
fi
exit $fail
