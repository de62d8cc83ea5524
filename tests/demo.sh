#!/bin/sh
# make demo: run the bundled oplock-break scenario (scenarios/oplock-break.rsim:
# two clients through RDBSS and the SMB mini-redirector, a batch oplock
# broken with a cached write, a link outage, a connection deletion ending
# in a controlled disconnect), then show the report, the break as RDBSS
# handled it, draw its charts into results/, write the HTML report and a
# capture of it that Wireshark reads.
build=${1:-build}
scenario=scenarios/oplock-break.rsim
name=$(basename "$scenario" .rsim)
db=results/$name.db
mkdir -p results
rm -f "$db"
"$build/rdrsim" run -o "$db" "$scenario"
status=$?
echo
"$build/rdrsim" report "$db"
echo "the oplock break:"
sqlite3 -column -header "$db" \
    "SELECT file, holder_node, from_level, to_level, outcome, (t_acked_ns - t_sent_ns) / 1e6 AS ack_ms FROM oplock_breaks"
echo
echo "what c1's RDBSS called while it handled the break:"
sqlite3 -column -header "$db" \
    "SELECT t_ns / 1e6 AS t_ms, routine, object, pending, status FROM callbacks
     WHERE node = 'c1' AND t_ns BETWEEN (SELECT t_sent_ns FROM oplock_breaks) AND (SELECT t_acked_ns FROM oplock_breaks)
     ORDER BY t_ns, rowid"
echo
for what in sequence timeline disconnect; do
    out="results/$name-$what.png"
    extra=
    [ "$what" = sequence ] && extra="--break 1"
    # shellcheck disable=SC2086
    if "$build/rdrsim" plot "$db" --what "$what" $extra -o "$out"; then
        echo "chart: $out"
    fi
done
page="results/$name.html"
if "$build/rdrsim" report "$db" --format html -o "$page"; then
    echo "report: $page (open it in a browser: the tables, the timeline, and each break and disconnect drawn)"
fi
cap="results/$name.pcapng"
if "$build/rdrsim" pcap "$db" -o "$cap" >/dev/null; then
    echo "capture: $cap (open it in Wireshark: filter smb2, Statistics > Service Response Time > SMB2)"
fi
echo "open the trace yourself: sqlite3 $db"
exit $status
