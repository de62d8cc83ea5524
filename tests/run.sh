#!/bin/sh
# Run every test program and the scenario tests; end with "N passed, N failed".
build=${1:-build}
exec sh tests/harness.sh "$build"
