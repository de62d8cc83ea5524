/* smb2wire: the bytes of an SMB message on the wire, as MS-SMB2 section 2.2
 * lays them out.
 *
 * A record of direct TCP transport (MS-SMB2 2.1): a 4-byte header (a zero
 * byte and the length, 24 bits big-endian), then the SMB2 message: the
 * 64-byte header (2.2.1) and the command's request or response (2.2.2 to
 * 2.2.40, each structure at its section).  The size is what the model
 * charges the network with (smb_msg_bytes), so a capture's stream offsets
 * are the transport's own.  What the model does not keep is sent as zeros
 * (times, GUIDs, signatures, file data) or left out (security blobs: a
 * SESSION_SETUP carries an empty one). */
#ifndef RDRSIM_SMB2WIRE_H
#define RDRSIM_SMB2WIRE_H

#include <stdint.h>

#include "smb.h"

/* Bytes of the record carrying `m`; `server` is the server's name (a
 * TREE_CONNECT names \\server\share). */
uint32_t smb2_wire_size(const SmbMsg *m, const char *server);

/* Bytes of the record before its file data (what smb2_wire_encode writes). */
uint32_t smb2_wire_head(const SmbMsg *m, const char *server);

/* The record's bytes before its file data (a READ response's or a WRITE
 * request's data follow as zeros): written to `out`, which has room for
 * smb2_wire_size bytes; returns how many were written. */
uint32_t smb2_wire_encode(const SmbMsg *m, const char *server, uint8_t *out);

#endif
