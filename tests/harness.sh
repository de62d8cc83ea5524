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

# Every bundled scenario runs and its expectations hold.
for s in scenarios/*.rsim; do
    name=$(basename "$s" .rsim)
    if "$RDRSIM_BIN" run -q -o "$tmp/$name.db" "$s" >"$tmp/out" 2>&1; then
        echo "ok   scenario $name"
        pass=$((pass + 1))
    else
        echo "FAIL scenario $name:"
        cat "$tmp/out"
        fail=$((fail + 1))
    fi
done

# rdrsim regress catches a build with a deliberate regression, and passes a
# build against itself (tests/regress-demo.sh).
if [ -x "$build/regress-demo/rdrsim" ]; then
    if sh tests/regress-demo.sh "$build" --check >"$tmp/out" 2>&1; then
        echo "ok   regress"
        pass=$((pass + 1))
    else
        echo "FAIL regress:"
        cat "$tmp/out"
        fail=$((fail + 1))
    fi
fi

# make install puts a working rdrsim under DESTDIR/PREFIX/bin (the default
# build only: another build tree would be rebuilt by the install target).
if [ "$build" = build ]; then
    if make -s install DESTDIR="$tmp/inst" PREFIX=/opt/rdrsim >"$tmp/out" 2>&1 &&
        "$tmp/inst/opt/rdrsim/bin/rdrsim" --version >>"$tmp/out" 2>&1; then
        echo "ok   make install"
        pass=$((pass + 1))
    else
        echo "FAIL make install:"
        cat "$tmp/out"
        fail=$((fail + 1))
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
