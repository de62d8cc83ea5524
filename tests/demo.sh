#!/bin/sh
# make demo: run the bundled demo scenario and show what it recorded.
# Until the redirector models land, the demo is the link scenario; it moves
# to scenarios/oplock-break.rsim when that exists.
build=${1:-build}
scenario=scenarios/oplock-break.rsim
[ -f "$scenario" ] || scenario=scenarios/ping-loss.rsim
name=$(basename "$scenario" .rsim)
db=results/$name.db
mkdir -p results
rm -f "$db"
"$build/rdrsim" run -o "$db" "$scenario"
status=$?
echo
echo "packets by kind and fate:"
sqlite3 -column -header "$db" \
    "SELECT kind, fate, count(*) AS packets FROM packets GROUP BY kind, fate ORDER BY kind, fate"
echo
echo "metrics:"
sqlite3 -column -header "$db" "SELECT name, value FROM metrics ORDER BY name"
echo
echo "open it yourself: sqlite3 $db"
exit $status
