#!/bin/sh
# Run each libFuzzer target for $1 seconds.  Corpora live in
# build/fuzz/corpus/TARGET, seeded from scenarios/ and tests/fuzz/seeds/;
# crashes land in build/fuzz/crash/ and must become regression inputs
# under tests/fuzz/regress/, which tests/test_fuzz_corpus.c replays in
# make test and make sanitize.
set -e
secs=$1; shift
top=$(pwd)
for t in "$@"; do
    corpus=build/fuzz/corpus/$t
    mkdir -p "$corpus" build/fuzz/crash
    cp scenarios/*.rsim tests/fuzz/seeds/* "$corpus"/ 2>/dev/null || true
    echo "fuzz $t for ${secs}s"
    build/fuzz/$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -dict=tests/fuzz/scenario.dict -artifact_prefix=build/fuzz/crash/ \
        -print_final_stats=1 "$corpus" 2>build/fuzz/$t.log || { tail -40 build/fuzz/$t.log; exit 1; }
    grep -E "stat::number_of_executed_units|stat::peak_rss|cov:" build/fuzz/$t.log | tail -3
done
