#!/bin/sh
# make bench [BENCH=phold|all]: each figure on its own line as
#   bench NAME key=value ...
# Rates are medians of RUNS runs; the yardstick of ../shared/bench is built
# and measured in the same run, and the ratio to it is printed.
build=${1:-build}
which=${2:-all}
RUNS=${RUNS:-3}
shared=../shared/bench

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

have_ref=0
if [ -f "$shared/phold_ref.c" ]; then
    gcc -O2 -o "$build/bench/phold_ref" "$shared/phold_ref.c" -lm && have_ref=1
fi

phold() { # name N M E
    name=$1; shift
    rates=""; rss=""; refs=""
    for i in $(seq "$RUNS"); do
        out=$("$build/bench/phold" "$@")
        rates="$rates $(echo "$out" | field events_per_s)"
        rss="$rss $(echo "$out" | field peak_rss_kib)"
        if [ "$have_ref" = 1 ]; then
            refs="$refs $("$build/bench/phold_ref" inline "$@" | field ev_per_s)"
        fi
    done
    rate=$(echo $rates | tr ' ' '\n' | median)
    kib=$(echo $rss | tr ' ' '\n' | median)
    line="bench $name events_per_s=$rate peak_rss_kib=$kib"
    if [ "$have_ref" = 1 ]; then
        ref=$(echo $refs | tr ' ' '\n' | median)
        ratio=$(awk -v a="$rate" -v b="$ref" 'BEGIN {printf "%.2f", a / b}')
        line="$line ref_events_per_s=$ref ratio=$ratio target_ratio=0.80"
    fi
    echo "$line"
}

case "$which" in
all|phold)
    phold phold-a 1000 1 16000000
    phold phold-b 10000 10 8000000
    phold phold-c 100000 10 5000000
    ;;
*)
    echo "unknown benchmark '$which' (expected phold or all)" >&2
    exit 2
    ;;
esac
