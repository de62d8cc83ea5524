#!/bin/sh
# Run every GTest program (TAP output) and every bundled scenario; print each
# failure and end with one line "N passed, N failed".
build=${1:-build}
export RDRSIM_BIN="$PWD/$build/rdrsim"
export RDRSIM_TOP="$PWD"
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for t in "$build"/tests/test_*; do
    case "$t" in *.o|*.d) continue ;; esac
    [ -x "$t" ] || continue
    name=$(basename "$t")
    "$t" --tap >"$tmp/out" 2>&1
    rc=$?
    p=$(grep -c '^ok ' "$tmp/out")
    f=$(grep -c '^not ok ' "$tmp/out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # the program died (an assertion aborts it before it says "not ok")
    fi
    if [ "$f" -ne 0 ]; then
        echo "FAIL $name (exit $rc):"
        grep -v '^ok ' "$tmp/out" | tail -30
    else
        echo "ok   $name: $p tests"
    fi
    pass=$((pass + p))
    fail=$((fail + f))
done

# One check: a name and a command, counted as passed when it succeeds.
check() {
    name=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        echo "ok   $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name:"
        cat "$tmp/out"
        fail=$((fail + 1))
    fi
}

# Every bundled scenario runs and its expectations hold.
for s in scenarios/*.rsim; do
    check "scenario $(basename "$s" .rsim)" "$RDRSIM_BIN" run -q -o "$tmp/$(basename "$s" .rsim).db" "$s"
done

# rdrsim regress catches a build with a deliberate regression, and passes a
# build against itself (tests/regress-demo.sh).
[ -x "$build/regress-demo/rdrsim" ] && check regress sh tests/regress-demo.sh "$build" --check

# make install puts a working rdrsim under DESTDIR/PREFIX/bin (the default
# build only: another build tree would be rebuilt by the install target).
installed() {
    make -s install DESTDIR="$tmp/inst" PREFIX=/opt/rdrsim && "$tmp/inst/opt/rdrsim/bin/rdrsim" --version
}
[ "$build" = build ] && check "make install" installed

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
