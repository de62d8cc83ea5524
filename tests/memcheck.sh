#!/bin/sh
# valgrind memcheck on every bundled scenario, on rdrsim pcap, and on the
# HTML pages and the linear chart: no errors, no definite leaks.
build=${1:-build}
sh tests/deps.sh valgrind || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# One check: a name, then rdrsim's arguments, run under memcheck.
memcheck() {
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

for s in scenarios/*.rsim; do
    name=$(basename "$s" .rsim)
    memcheck "$name" run -q -o "$tmp/$name.db" "$s"
done
# On a trace of the demo scenario: rdrsim pcap (the run made again and
# written out), the HTML report (every figure kind of a run through
# plot_draw), the linear sequence chart, and compare's page.
db="$tmp/oplock-break.db"
memcheck pcap pcap "$db" -o "$tmp/pcap.pcapng"
memcheck "report html" report "$db" --format html -o "$tmp/report.html"
memcheck "plot sequence linear" plot "$db" --what sequence --break 1 --time linear -o "$tmp/seq.svg"
memcheck "compare html" compare "$db" "$db" --format html -o "$tmp/compare.html"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
