/* ntstatus: every NTSTATUS a model can return, with its real value
 * ([MS-ERREF] 2.3.1), and the table of names the trace's views join on.
 *
 * One exception: the TDI pages (TDI_CONNECT, TDI_DISCONNECT) name
 * STATUS_REQUEST_TIMED_OUT, which [MS-ERREF] gives no code; rdrsim uses a
 * customer-defined code (the C bit, 0x20000000, set) so that it can never
 * collide with a real status. */
#ifndef RDRSIM_NTSTATUS_H
#define RDRSIM_NTSTATUS_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t NTSTATUS;

#define NTSTATUS_LIST(X) \
    X(STATUS_SUCCESS,                     0x00000000) \
    X(STATUS_TIMEOUT,                     0x00000102) \
    X(STATUS_PENDING,                     0x00000103) \
    X(STATUS_REPARSE,                     0x00000104) \
    X(STATUS_OPLOCK_BREAK_IN_PROGRESS,    0x00000108) \
    X(STATUS_NOTIFY_ENUM_DIR,             0x0000010C) \
    X(STATUS_BUFFER_OVERFLOW,             0x80000005) \
    X(STATUS_NO_MORE_FILES,               0x80000006) \
    X(STATUS_REDIRECTOR_HAS_OPEN_HANDLES, 0x80000018) \
    X(STATUS_UNSUCCESSFUL,                0xC0000001) \
    X(STATUS_NOT_IMPLEMENTED,             0xC0000002) \
    X(STATUS_INVALID_HANDLE,              0xC0000008) \
    X(STATUS_INVALID_PARAMETER,           0xC000000D) \
    X(STATUS_END_OF_FILE,                 0xC0000011) \
    X(STATUS_MORE_PROCESSING_REQUIRED,    0xC0000016) \
    X(STATUS_ACCESS_DENIED,               0xC0000022) \
    X(STATUS_OBJECT_NAME_INVALID,         0xC0000033) \
    X(STATUS_OBJECT_NAME_NOT_FOUND,       0xC0000034) \
    X(STATUS_OBJECT_NAME_COLLISION,       0xC0000035) \
    X(STATUS_OBJECT_PATH_NOT_FOUND,       0xC000003A) \
    X(STATUS_SHARING_VIOLATION,           0xC0000043) \
    X(STATUS_FILE_LOCK_CONFLICT,          0xC0000054) \
    X(STATUS_LOCK_NOT_GRANTED,            0xC0000055) \
    X(STATUS_DELETE_PENDING,              0xC0000056) \
    X(STATUS_FILE_IS_A_DIRECTORY,         0xC00000BA) \
    X(STATUS_NOT_A_DIRECTORY,             0xC0000103) \
    X(STATUS_DIRECTORY_NOT_EMPTY,         0xC0000101) \
    X(STATUS_LOGON_FAILURE,               0xC000006D) \
    X(STATUS_RANGE_NOT_LOCKED,            0xC000007E) \
    X(STATUS_INSUFFICIENT_RESOURCES,      0xC000009A) \
    X(STATUS_IO_TIMEOUT,                  0xC00000B5) \
    X(STATUS_NOT_SUPPORTED,               0xC00000BB) \
    X(STATUS_REMOTE_NOT_LISTENING,        0xC00000BC) \
    X(STATUS_BAD_NETWORK_PATH,            0xC00000BE) \
    X(STATUS_NETWORK_BUSY,                0xC00000BF) \
    X(STATUS_UNEXPECTED_NETWORK_ERROR,    0xC00000C4) \
    X(STATUS_LOST_WRITEBEHIND_DATA,       0xC0000222) \
    X(STATUS_NETWORK_NAME_DELETED,        0xC00000C9) \
    X(STATUS_NETWORK_ACCESS_DENIED,       0xC00000CA) \
    X(STATUS_BAD_NETWORK_NAME,            0xC00000CC) \
    X(STATUS_REQUEST_NOT_ACCEPTED,        0xC00000D0) \
    X(STATUS_OPLOCK_NOT_GRANTED,          0xC00000E2) \
    X(STATUS_INVALID_OPLOCK_PROTOCOL,     0xC00000E3) \
    X(STATUS_REDIRECTOR_NOT_STARTED,      0xC00000FB) \
    X(STATUS_FILES_OPEN,                  0xC0000107) \
    X(STATUS_CONNECTION_IN_USE,           0xC0000108) \
    X(STATUS_CANCELLED,                   0xC0000120) \
    X(STATUS_FILE_CLOSED,                 0xC0000128) \
    X(STATUS_LOCAL_DISCONNECT,            0xC000013B) \
    X(STATUS_REMOTE_DISCONNECT,           0xC000013C) \
    X(STATUS_LINK_FAILED,                 0xC000013E) \
    X(STATUS_LINK_TIMEOUT,                0xC000013F) \
    X(STATUS_INVALID_CONNECTION,          0xC0000140) \
    X(STATUS_INVALID_DEVICE_STATE,        0xC0000184) \
    X(STATUS_NETWORK_CREDENTIAL_CONFLICT, 0xC0000195) \
    X(STATUS_USER_SESSION_DELETED,        0xC0000203) \
    X(STATUS_CONNECTION_DISCONNECTED,     0xC000020C) \
    X(STATUS_CONNECTION_RESET,            0xC000020D) \
    X(STATUS_CONNECTION_REFUSED,          0xC0000236) \
    X(STATUS_GRACEFUL_DISCONNECT,         0xC0000237) \
    X(STATUS_NETWORK_UNREACHABLE,         0xC000023C) \
    X(STATUS_HOST_UNREACHABLE,            0xC000023D) \
    X(STATUS_CONNECTION_ABORTED,          0xC0000241) \
    X(STATUS_LOGIN_WKSTA_RESTRICTION,     0xC0000248) \
    X(STATUS_NOT_FOUND,                   0xC0000225) \
    X(STATUS_NETWORK_SESSION_EXPIRED,     0xC000035C) \
    X(STATUS_DOWNGRADE_DETECTED,          0xC0000388) \
    X(STATUS_QUOTA_EXCEEDED,              0xC0000044) \
    X(STATUS_RETRY,                       0xC000022D) \
    X(STATUS_REQUEST_TIMED_OUT,           0xE0000001)

#define NTSTATUS_ENUM(name, value) name = (NTSTATUS)value,
enum { NTSTATUS_LIST(NTSTATUS_ENUM) };
#undef NTSTATUS_ENUM

/* The name of a status ("STATUS_SUCCESS"), or NULL for one not in the list. */
const char *ntstatus_name(NTSTATUS s);

/* Iterate the list: returns false past the end. */
int ntstatus_at(size_t i, NTSTATUS *code, const char **name);

#endif
