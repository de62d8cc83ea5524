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

# A sweep of 20 equal runs (bench/sweep.rsim, varied by a parameter that
# changes nothing), with -j 1 and with -j 2: the wall times and their ratio.
sweep_once() { # jobs
    db=$(mktemp -u "${TMPDIR:-/tmp}/rdrsim-sweep-XXXXXX.db")
    t0=$(date +%s.%N)
    "$build/rdrsim" sweep bench/sweep.rsim --vary "link.c1-srv.mtu=1500,1500.0" --runs 10 -j "$1" \
        --trace none -q -o "$db" || exit 1
    t1=$(date +%s.%N)
    rm -f "$db"
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

sweep() {
    w1=""; w2=""
    for i in $(seq "$RUNS"); do
        w1="$w1 $(sweep_once 1)"
        w2="$w2 $(sweep_once 2)"
    done
    m1=$(echo $w1 | tr ' ' '\n' | median)
    m2=$(echo $w2 | tr ' ' '\n' | median)
    speedup=$(awk -v a="$m1" -v b="$m2" 'BEGIN {printf "%.2f", a / b}')
    echo "bench sweep runs=20 wall_j1_s=$m1 wall_j2_s=$m2 speedup=$speedup cores=$(nproc)"
}

case "$which" in
all|phold|sweep)
    if [ "$which" != sweep ]; then
        phold phold-a 1000 1 16000000
        phold phold-b 10000 10 8000000
        phold phold-c 100000 10 5000000
    fi
    [ "$which" = phold ] || sweep
    ;;
*)
    echo "unknown benchmark '$which' (expected phold, sweep or all)" >&2
    exit 2
    ;;
esac
