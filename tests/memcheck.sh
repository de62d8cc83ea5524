#!/bin/sh
# valgrind memcheck on every bundled scenario: no errors, no definite leaks.
build=${1:-build}
sh tests/deps.sh valgrind || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
for s in scenarios/*.rsim; do
    name=$(basename "$s" .rsim)
    if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite "$build/rdrsim" run -q -o "$tmp/$name.db" "$s" >"$tmp/out" 2>&1; then
        echo "ok   memcheck $name"
        pass=$((pass + 1))
    else
        echo "FAIL memcheck $name:"
        cat "$tmp/out"
        fail=$((fail + 1))
    fi
done
# rdrsim pcap: the run made again and written out, under memcheck too.
if "$build/rdrsim" run -q -o "$tmp/pcap.db" scenarios/oplock-break.rsim >/dev/null 2>&1 &&
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite "$build/rdrsim" pcap "$tmp/pcap.db" -o "$tmp/pcap.pcapng" >"$tmp/out" 2>&1; then
    echo "ok   memcheck pcap"
    pass=$((pass + 1))
else
    echo "FAIL memcheck pcap:"
    cat "$tmp/out"
    fail=$((fail + 1))
fi
# The HTML report (every figure kind of a run through plot_draw), the
# linear sequence chart, and compare's page, under memcheck too.
memcheck_cli() {
    name=$1
    shift
    if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite "$build/rdrsim" "$@" >"$tmp/out" 2>&1; then
        echo "ok   memcheck $name"
        pass=$((pass + 1))
    else
        echo "FAIL memcheck $name:"
        cat "$tmp/out"
        fail=$((fail + 1))
    fi
}
memcheck_cli "report html" report "$tmp/pcap.db" --format html -o "$tmp/report.html"
memcheck_cli "plot sequence linear" plot "$tmp/pcap.db" --what sequence --break 1 --time linear -o "$tmp/seq.svg"
memcheck_cli "compare html" compare "$tmp/pcap.db" "$tmp/pcap.db" --format html -o "$tmp/compare.html"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
