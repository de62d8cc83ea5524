#!/bin/sh
# make bench [BENCH=phold|sweep|fullstack|fullstack-1k|fullstack-10k|routed-1k|trace|all]:
# each figure on its own line as
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

# The full stack (bench/fullstack-*.rsim): 1,000 or 10,000 clients on 10
# servers for 60 simulated seconds, medians of RUNS runs (RUNS_10K for
# 10,000 clients).  The scenarios' ten server groups are independent, so
# they run with -j JOBS (default: the machine's cores; the line says how
# many).  The trace line compares tracing on and off with -j 1 both: a
# traced run is whole (docs/cli.md, "Running a scenario's parts apart"),
# and its SQLite writer takes the second core.  Peak RSS comes from GNU
# time when it is installed.
JOBS=${JOBS:-$(nproc)}
peak_of() { sed -n 's/^peak_rss_kib=//p' "$1"; }
run_timed() { # scenario db level jobs -> prints "wall peak"
    tfile=$(mktemp)
    t0=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f 'peak_rss_kib=%M' -o "$tfile" "$build/rdrsim" run -q -j "$4" -o "$2" --trace "$3" "$1" >/dev/null
    else
        "$build/rdrsim" run -q -j "$4" -o "$2" --trace "$3" "$1" >/dev/null
    fi
    t1=$(date +%s.%N)
    peak=$(peak_of "$tfile"); rm -f "$tfile"
    awk -v a="$t0" -v b="$t1" -v p="${peak:-NA}" 'BEGIN {printf "%.3f %s\n", b - a, p}'
}
db_rows() { # every row of every table of the DB
    n=0
    for t in $(sqlite3 "$1" "SELECT name FROM sqlite_master WHERE type = 'table'"); do
        n=$((n + $(sqlite3 "$1" "SELECT count(*) FROM \"$t\"")))
    done
    echo $n
}
# The machine, for the absolute targets: PHOLD (b) of the plain C loop
# against the 6.2M events/s of a CI-class machine (../shared/bench/README.md).
machine_line() {
    [ "$have_ref" = 1 ] || return 0
    refs=""
    for i in $(seq "$RUNS"); do
        refs="$refs $("$build/bench/phold_ref" inline 10000 10 8000000 | field ev_per_s)"
    done
    ref=$(echo $refs | tr ' ' '\n' | median)
    awk -v r="$ref" 'BEGIN { printf "bench machine phold_ref_b_events_per_s=%s ci_class=6200000 speed=%.2f\n", r, r / 6200000 }'
}
fullstack_line() { # name scenario runs targets
    name=$1; scen=$2; runs=$3; targets=$4
    walls=""; peaks=""
    for i in $(seq "$runs"); do
        db=$(mktemp -u "${TMPDIR:-/tmp}/rdrsim-fs-XXXXXX.db")
        set -- $(run_timed "$scen" "$db" none "$JOBS")
        walls="$walls $1"; peaks="$peaks $2"
        events=$(sqlite3 "$db" "SELECT events FROM runs")
        ops=$(sqlite3 "$db" "SELECT CAST(value AS INTEGER) FROM metrics WHERE name = 'loadgen.ops'")
        bytes=$(stat -c %s "$db")
        rm -f "$db"
    done
    w=$(echo $walls | tr ' ' '\n' | median); p=$(echo $peaks | tr ' ' '\n' | median)
    awk -v n="$name" -v e="$events" -v o="$ops" -v w="$w" -v p="$p" -v b="$bytes" -v r="$runs" -v j="$JOBS" -v t="$targets" 'BEGIN {
        printf "bench %s events_per_s=%.0f ops_per_s=%.0f wall_s=%.1f peak_rss_kib=%s trace_bytes_per_event=%.2f events=%d ops=%d trace=none jobs=%d runs=%d %s\n",
               n, e / w, o / w, w, p, b / e, e, o, j, r, t }'
}
trace_line() {
    w0s=""; w1s=""; refs=""
    gcc -O2 -o "$build/bench/sqlite_trace" "$shared/sqlite_trace.c" -lsqlite3 2>/dev/null || refs=NA
    for i in $(seq "$RUNS"); do
        db0=$(mktemp -u "${TMPDIR:-/tmp}/rdrsim-fs-XXXXXX.db"); db1=$(mktemp -u "${TMPDIR:-/tmp}/rdrsim-fs-XXXXXX.db")
        set -- $(run_timed bench/fullstack-1k.rsim "$db0" none 1) $(run_timed bench/fullstack-1k.rsim "$db1" all 1)
        w0s="$w0s $1"; w1s="$w1s $3"
        rows=$(db_rows "$db1"); events=$(sqlite3 "$db1" "SELECT events FROM runs"); bytes=$(stat -c %s "$db1")
        rm -f "$db0" "$db1"
        if [ "$refs" != NA ]; then
            rdb=$(mktemp -u "${TMPDIR:-/tmp}/rdrsim-ref-XXXXXX.db")
            refs="$refs $("$build/bench/sqlite_trace" "$rdb" 3000000 off int | field rows_per_s)"
            rm -f "$rdb"*
        fi
    done
    w0=$(echo $w0s | tr ' ' '\n' | median); w1=$(echo $w1s | tr ' ' '\n' | median)
    ref=NA
    [ "$refs" = NA ] || ref=$(echo $refs | tr ' ' '\n' | median)
    awk -v w0="$w0" -v w1="$w1" -v r="$rows" -v e="$events" -v b="$bytes" -v ref="$ref" -v n="$RUNS" 'BEGIN {
        rps = r / w1
        printf "bench trace rows_per_s=%.0f slowdown=%.2f rows=%d wall_none_s=%.1f wall_all_s=%.1f trace_bytes_per_event=%.2f ref_rows_per_s=%s ratio=%s jobs=1 runs=%d target_ratio=0.75 target_slowdown=1.50\n",
               rps, w1 / w0, r, w0, w1, b / e, ref, ref == "NA" ? "NA" : sprintf("%.2f", rps / ref), n }'
}

case "$which" in
fullstack)
    machine_line
    fullstack_line fullstack-1k bench/fullstack-1k.rsim "$RUNS" "target_events_per_s=2000000"
    fullstack_line fullstack-10k bench/fullstack-10k.rsim "${RUNS_10K:-$RUNS}" "target_wall_s=120 target_peak_rss_kib=2097152"
    fullstack_line routed-1k bench/routed-1k.rsim "$RUNS" "target_events_per_s=2000000"
    trace_line
    ;;
fullstack-1k)  machine_line; fullstack_line fullstack-1k bench/fullstack-1k.rsim "$RUNS" "target_events_per_s=2000000" ;;
fullstack-10k) machine_line; fullstack_line fullstack-10k bench/fullstack-10k.rsim "${RUNS_10K:-$RUNS}" "target_wall_s=120 target_peak_rss_kib=2097152" ;;
routed-1k)     machine_line; fullstack_line routed-1k bench/routed-1k.rsim "$RUNS" "target_events_per_s=2000000" ;;
trace)         trace_line ;;
all|phold|sweep)
    if [ "$which" != sweep ]; then
        phold phold-a 1000 1 16000000
        phold phold-b 10000 10 8000000
        phold phold-c 100000 10 5000000
    fi
    [ "$which" = phold ] || sweep
    ;;
*)
    echo "unknown benchmark '$which' (expected phold, sweep, fullstack, fullstack-1k, fullstack-10k, routed-1k, trace or all)" >&2
    exit 2
    ;;
esac
