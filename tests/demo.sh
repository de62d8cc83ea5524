#!/bin/sh
# make demo: run the bundled oplock-break scenario (a second client's open
# breaks the first client's batch oplock over 5 ms links), then show the
# report, the breaks and the message exchange of the first connection, and
# draw the sequence chart of the break.
build=${1:-build}
scenario=scenarios/smb-oplock-open.rsim
name=$(basename "$scenario" .rsim)
db=results/$name.db
mkdir -p results
rm -f "$db"
"$build/rdrsim" run -o "$db" "$scenario"
status=$?
echo
"$build/rdrsim" report "$db"
echo "oplock breaks:"
sqlite3 -column -header "$db" \
    "SELECT file, holder_node, from_level, to_level, outcome, (t_acked_ns - t_sent_ns) / 1e6 AS ack_ms FROM oplock_breaks"
echo
echo "what each open was granted:"
sqlite3 -column -header "$db" "SELECT node, path, level FROM oplock_grants ORDER BY t_ns"
echo
if "$build/rdrsim" plot "$db" --what sequence --break 1 -o "results/$name-break.png"; then
    echo "sequence chart of the first break: results/$name-break.png"
fi
echo "open the trace yourself: sqlite3 $db"
exit $status
