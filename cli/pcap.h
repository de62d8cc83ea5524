/* pcap: a capture of a run that Wireshark reads (`rdrsim pcap DB -o F`).
 *
 * The run is simulated again from what its trace recorded (scenario text,
 * overrides, seed): the simulator is deterministic, so the same packets go
 * on the same wires at the same times.  Each packet is written as it
 * comes off its link at the receiving end (pcapng, one interface per link,
 * nanosecond timestamps of simulated time) with
 * Ethernet, IPv4 and TCP or ICMP headers whose ports, sequence and
 * acknowledgement numbers, flags, windows and lengths are the transport's
 * own, carrying the records of the streams: SMB2 messages encoded as
 * MS-SMB2 2.2 lays them out (models/smb2wire.h), zeros for file data and
 * for a TDI client's own records.  A run that does not come out the same
 * (another build wrote the trace) is refused, as is a trace below
 * `--trace all`, whose packet rows the capture is checked against. */
#ifndef RDRSIM_PCAP_H
#define RDRSIM_PCAP_H

#include <stdint.h>

typedef struct {
    const char *db, *out;
    int64_t run;      /* 0: the first run */
    const char *node; /* NULL: every node */
    int64_t conn;     /* 0: every connection */
} PcapOptions;

/* Exit status: 0 written, 2 bad input (refused), 3 the run did not come out the same. */
int pcap_main(const PcapOptions *opt);

#endif
