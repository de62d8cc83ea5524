/* smb2wire.c: SMB2 messages as bytes (MS-SMB2 2.1, 2.2).
 *
 * One builder serves both sizing and encoding: with no output buffer it
 * only counts, so the size the network is charged with and the bytes a
 * capture shows can never disagree.  Offsets inside a message are from the
 * start of its SMB2 header, as the specification has them; every integer is
 * little-endian (2.2). */
#include "smb2wire.h"

#include <string.h>

typedef struct {
    uint8_t *out; /* NULL: count only */
    uint32_t n;   /* bytes so far, from the start of the record */
    uint32_t data; /* file data after the encoded bytes: counted, not written */
} Buf;

enum { NBSS = 4 }; /* the direct TCP transport header (2.1) */

static inline void put(Buf *b, const void *p, uint32_t len)
{
    if (b->out && p)
        memcpy(b->out + b->n, p, len);
    else if (b->out)
        memset(b->out + b->n, 0, len);
    b->n += len;
}
static inline void zeros(Buf *b, uint32_t len) { put(b, NULL, len); }
static inline void u8(Buf *b, uint8_t v) { put(b, &v, 1); }
static inline void u16(Buf *b, uint16_t v)
{
    uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    put(b, x, 2);
}
static inline void u32(Buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    put(b, x, 4);
}
static inline void u64(Buf *b, uint64_t v)
{
    u32(b, (uint32_t)v);
    u32(b, (uint32_t)(v >> 32));
}
/* A field written later, once the offset or length it holds is known. */
static void patch16(Buf *b, uint32_t at, uint16_t v)
{
    if (b->out) {
        b->out[at] = (uint8_t)v;
        b->out[at + 1] = (uint8_t)(v >> 8);
    }
}
static void patch32(Buf *b, uint32_t at, uint32_t v)
{
    if (b->out)
        for (int i = 0; i < 4; i++)
            b->out[at + (uint32_t)i] = (uint8_t)(v >> (8 * i));
}
/* Offset from the SMB2 header. */
static uint32_t here(const Buf *b) { return b->n - NBSS; }
static void align8(Buf *b) { zeros(b, (8 - here(b) % 8) % 8); }

/* A name in UTF-16LE (the model's names are ASCII). */
static uint32_t utf16(Buf *b, const char *s)
{
    uint32_t n = 0;
    for (; s && *s; s++, n += 2)
        u16(b, (uint8_t)*s);
    return n;
}

/* FileId (2.2.14.1): the model's one id, persistent and volatile alike. */
static void file_id(Buf *b, uint64_t id)
{
    u64(b, id);
    u64(b, id);
}

/* A lease key is 16 bytes; the model's key fills the first 8. */
static void lease_key(Buf *b, uint64_t key)
{
    u64(b, key);
    u64(b, 0);
}

static const uint16_t dialects[] = { SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300, SMB2_DIALECT_302,
                                     SMB2_DIALECT_311 };

/* 2.2.1.1 / 2.2.1.2: the SMB2 header. */
static void header(Buf *b, const SmbMsg *m)
{
    static const uint8_t protocol[4] = { 0xFE, 'S', 'M', 'B' };
    put(b, protocol, 4);
    u16(b, 64);                       /* StructureSize */
    u16(b, 1);                        /* CreditCharge */
    u32(b, m->response ? m->status : 0); /* Status (ChannelSequence/Reserved in a request) */
    u16(b, (uint16_t)m->cmd);
    u16(b, 1);                        /* CreditRequest / CreditResponse */
    u32(b, (m->response ? 0x1u : 0) | (m->async ? 0x2u : 0)); /* SMB2_FLAGS_SERVER_TO_REDIR, ASYNC_COMMAND */
    u32(b, 0);                        /* NextCommand */
    u64(b, m->msg_id);
    if (m->async) {
        u64(b, m->async_id);          /* AsyncId */
    } else {
        u32(b, 0);                    /* Reserved */
        u32(b, m->cmd == SMB2_OPLOCK_BREAK && m->msg_id == SMB2_UNSOLICITED ? 0 : (uint32_t)m->tree); /* B1 */
    }
    u64(b, m->session);
    zeros(b, 16);                     /* Signature */
}

/* 2.2.2: the body of an error response, and of an interim one. */
static void error_body(Buf *b)
{
    u16(b, 9);
    u8(b, 0); /* ErrorContextCount */
    u8(b, 0);
    u32(b, 0); /* ByteCount */
    u8(b, 0);  /* ErrorData */
}

static bool offers(const SmbMsg *m, uint16_t d)
{
    uint16_t lo = m->min_dialect ? m->min_dialect : SMB2_DIALECT_202;
    return d >= lo && d <= m->dialect;
}

/* 2.2.3.1.1: SMB2_PREAUTH_INTEGRITY_CAPABILITIES, the one context 3.1.1 requires. */
static void preauth_context(Buf *b)
{
    u16(b, 1);     /* ContextType */
    u16(b, 38);    /* DataLength */
    u32(b, 0);
    u16(b, 1);     /* HashAlgorithmCount */
    u16(b, 32);    /* SaltLength */
    u16(b, 1);     /* SHA-512 */
    zeros(b, 32);  /* Salt */
}

static void negotiate(Buf *b, const SmbMsg *m)
{
    uint32_t start = here(b);
    if (!m->response) { /* 2.2.3 */
        uint16_t n = 0;
        for (size_t i = 0; i < G_N_ELEMENTS(dialects); i++)
            n += offers(m, dialects[i]);
        bool ctx = offers(m, SMB2_DIALECT_311);
        u16(b, 36);
        u16(b, n);
        u16(b, 1);             /* SecurityMode: signing enabled */
        u16(b, 0);
        u32(b, m->capabilities);
        zeros(b, 16);          /* ClientGuid */
        uint32_t at = b->n;
        u32(b, 0);             /* NegotiateContextOffset */
        u16(b, ctx ? 1 : 0);   /* NegotiateContextCount */
        u16(b, 0);
        for (size_t i = 0; i < G_N_ELEMENTS(dialects); i++)
            if (offers(m, dialects[i]))
                u16(b, dialects[i]);
        if (ctx) {
            align8(b);
            patch32(b, at, here(b));
            preauth_context(b);
        }
        (void)start;
        return;
    }
    /* 2.2.4 */
    bool ctx = m->dialect == SMB2_DIALECT_311;
    u16(b, 65);
    u16(b, 1);                 /* SecurityMode */
    u16(b, m->dialect);
    u16(b, ctx ? 1 : 0);       /* NegotiateContextCount */
    zeros(b, 16);              /* ServerGuid */
    u32(b, m->capabilities);
    u32(b, 8u << 20);          /* MaxTransactSize */
    u32(b, 8u << 20);          /* MaxReadSize */
    u32(b, 8u << 20);          /* MaxWriteSize */
    u64(b, 0);                 /* SystemTime */
    u64(b, 0);                 /* ServerStartTime */
    u16(b, (uint16_t)(here(b) + 8)); /* SecurityBufferOffset: just after this fixed part */
    u16(b, 0);                 /* SecurityBufferLength */
    uint32_t at = b->n;
    u32(b, 0);                 /* NegotiateContextOffset */
    if (ctx) {
        align8(b);
        patch32(b, at, here(b));
        preauth_context(b);
    }
}

static void session_setup(Buf *b, const SmbMsg *m)
{
    if (!m->response) { /* 2.2.5 */
        u16(b, 25);
        u8(b, 0);              /* Flags */
        u8(b, 1);              /* SecurityMode */
        u32(b, 0);             /* Capabilities */
        u32(b, 0);             /* Channel */
        u16(b, (uint16_t)(here(b) + 12)); /* SecurityBufferOffset */
        u16(b, 0);             /* SecurityBufferLength: the model authenticates by name */
        u64(b, 0);             /* PreviousSessionId */
        return;
    }
    u16(b, 9); /* 2.2.6 */
    u16(b, 0); /* SessionFlags */
    u16(b, (uint16_t)(here(b) + 4));
    u16(b, 0);
}

static void small(Buf *b) /* 2.2.7, 2.2.8, 2.2.11, 2.2.12, 2.2.28-2.2.30, 2.2.18 */
{
    u16(b, 4);
    u16(b, 0);
}

static void tree_connect(Buf *b, const SmbMsg *m, const char *server)
{
    if (!m->response) { /* 2.2.9 */
        u16(b, 9);
        u16(b, 0);
        u16(b, (uint16_t)(here(b) + 4)); /* PathOffset */
        uint32_t at = b->n;
        u16(b, 0);
        uint32_t len = utf16(b, "\\\\");
        len += utf16(b, server);
        len += utf16(b, "\\");
        len += utf16(b, m->share);
        patch16(b, at, (uint16_t)len);
        return;
    }
    u16(b, 16); /* 2.2.10 */
    u8(b, 1);   /* ShareType: disk */
    u8(b, 0);
    u32(b, 0);  /* ShareFlags */
    u32(b, 0);  /* Capabilities */
    u32(b, 0x001f01ffu); /* MaximalAccess */
}

/* 2.2.13.2, 2.2.13.2.8, 2.2.13.2.10, 2.2.14.2.10, 2.2.14.2.11: the lease
 * create context, request or response, v1 or v2. */
static void lease_context(Buf *b, const SmbMsg *m)
{
    bool v2 = m->lease_version == 2;
    u32(b, 0);                 /* Next */
    u16(b, 16);                /* NameOffset */
    u16(b, 4);                 /* NameLength */
    u16(b, 0);
    u16(b, 24);                /* DataOffset */
    u32(b, v2 ? 52 : 32);      /* DataLength */
    put(b, "RqLs", 4);
    zeros(b, 4);
    lease_key(b, m->lease_key);
    u32(b, m->lease_state);
    u32(b, (m->lease_break_in_progress ? 0x2u : 0) | (v2 && m->parent_set ? 0x4u : 0));
    u64(b, 0);                 /* LeaseDuration */
    if (v2) {
        lease_key(b, m->parent_set ? m->parent_lease_key : 0);
        u16(b, m->epoch);
        u16(b, 0);
    }
}

static void create(Buf *b, const SmbMsg *m)
{
    if (!m->response) { /* 2.2.13 */
        u16(b, 57);
        u8(b, 0);              /* SecurityFlags */
        u8(b, (uint8_t)(m->lease_ctx ? OPLOCK_LEVEL_LEASE : m->oplock)); /* RequestedOplockLevel */
        u32(b, 2);             /* ImpersonationLevel: Impersonation */
        u64(b, 0);             /* SmbCreateFlags */
        u64(b, 0);
        u32(b, m->access);
        u32(b, m->directory ? 0x10u : 0x80u); /* FileAttributes */
        u32(b, m->share_access);
        u32(b, m->disposition);
        u32(b, (m->directory ? 0x1u : 0x40u) | (m->delete_on_close ? 0x1000u : 0)); /* CreateOptions */
        uint32_t name_at = b->n;
        u16(b, (uint16_t)(here(b) + 12)); /* NameOffset: the Buffer */
        u16(b, 0);
        uint32_t ctx_at = b->n;
        u32(b, 0);
        u32(b, 0);
        uint32_t len = utf16(b, m->path);
        patch16(b, name_at + 2, (uint16_t)len);
        if (!len && !m->lease_ctx)
            u8(b, 0); /* the Buffer is never empty (StructureSize 57) */
        if (m->lease_ctx) {
            align8(b);
            uint32_t off = here(b), before = b->n;
            lease_context(b, m);
            patch32(b, ctx_at, off);
            patch32(b, ctx_at + 4, b->n - before);
        }
        return;
    }
    /* 2.2.14 */
    u16(b, 89);
    u8(b, (uint8_t)(m->lease_ctx ? OPLOCK_LEVEL_LEASE : m->oplock));
    u8(b, 0);                  /* Flags */
    u32(b, m->create_action);
    zeros(b, 32);              /* the four times */
    u64(b, m->length);         /* AllocationSize */
    u64(b, m->length);         /* EndofFile */
    u32(b, m->directory ? 0x10u : 0x80u);
    u32(b, 0);
    file_id(b, m->file);
    uint32_t ctx_at = b->n;
    u32(b, 0);
    u32(b, 0);
    if (m->lease_ctx) {
        uint32_t off = here(b), before = b->n;
        lease_context(b, m);
        patch32(b, ctx_at, off);
        patch32(b, ctx_at + 4, b->n - before);
    } else {
        u8(b, 0); /* Buffer (StructureSize 89) */
    }
}

static void close_msg(Buf *b, const SmbMsg *m)
{
    if (!m->response) { /* 2.2.15 */
        u16(b, 24);
        u16(b, 0);
        u32(b, 0);
        file_id(b, m->file);
        return;
    }
    u16(b, 60); /* 2.2.16 */
    u16(b, 0);
    u32(b, 0);
    zeros(b, 32);
    u64(b, 0);
    u64(b, 0);
    u32(b, 0);
}

static void flush(Buf *b, const SmbMsg *m)
{
    if (!m->response) { /* 2.2.17 */
        u16(b, 24);
        u16(b, 0);
        u32(b, 0);
        file_id(b, m->file);
        return;
    }
    small(b);
}

static void read_msg(Buf *b, const SmbMsg *m)
{
    if (!m->response) { /* 2.2.19 */
        u16(b, 49);
        u8(b, 0x50);           /* Padding: the data's offset wished for */
        u8(b, 0);
        u32(b, (uint32_t)m->length);
        u64(b, m->offset);
        file_id(b, m->file);
        u32(b, 0);             /* MinimumCount */
        u32(b, 0);             /* Channel */
        u32(b, 0);
        u16(b, 0);
        u16(b, 0);
        u8(b, 0);              /* Buffer */
        return;
    }
    u16(b, 17); /* 2.2.20 */
    u8(b, (uint8_t)(here(b) + 14)); /* DataOffset: 0x50 */
    u8(b, 0);
    u32(b, (uint32_t)m->length);
    u32(b, 0);
    u32(b, 0);
    b->data = (uint32_t)m->length;
}

static void write_msg(Buf *b, const SmbMsg *m)
{
    if (!m->response) { /* 2.2.21 */
        u16(b, 49);
        u16(b, (uint16_t)(here(b) + 46)); /* DataOffset: 0x70 */
        u32(b, (uint32_t)m->length);
        u64(b, m->offset);
        file_id(b, m->file);
        u32(b, 0);
        u32(b, 0);
        u16(b, 0);
        u16(b, 0);
        u32(b, 0);
        b->data = (uint32_t)m->length;
        if (!m->length)
            u8(b, 0);
        return;
    }
    u16(b, 17); /* 2.2.22 */
    u16(b, 0);
    u32(b, (uint32_t)m->length); /* Count */
    u32(b, 0);
    u16(b, 0);
    u16(b, 0);
}

static void lock(Buf *b, const SmbMsg *m)
{
    if (!m->response) { /* 2.2.26, 2.2.26.1 */
        u16(b, 48);
        u16(b, 1);             /* LockCount */
        u32(b, 0);             /* LockSequenceNumber/Index */
        file_id(b, m->file);
        u64(b, m->offset);
        u64(b, m->length);
        u32(b, m->unlock ? 0x4u : (m->exclusive ? 0x2u : 0x1u) | (m->fail_immediately ? 0x10u : 0));
        u32(b, 0);
        return;
    }
    small(b); /* 2.2.27 */
}

/* 2.2.31.4, 2.2.32.6: VALIDATE_NEGOTIATE_INFO's request and response. */
static void ioctl(Buf *b, const SmbMsg *m)
{
    bool validate = m->ctl_code == FSCTL_VALIDATE_NEGOTIATE_INFO;
    uint64_t fid = validate ? UINT64_MAX : m->file;
    if (!m->response) { /* 2.2.31 */
        u16(b, 57);
        u16(b, 0);
        u32(b, m->ctl_code);
        file_id(b, fid);
        uint32_t in_at = b->n;
        u32(b, 0);             /* InputOffset */
        u32(b, 0);             /* InputCount */
        u32(b, 0);             /* MaxInputResponse */
        u32(b, 0);             /* OutputOffset */
        u32(b, 0);             /* OutputCount */
        u32(b, 1024);          /* MaxOutputResponse */
        u32(b, 1);             /* Flags: SMB2_0_IOCTL_IS_FSCTL */
        u32(b, 0);
        if (validate) {
            uint32_t off = here(b), before = b->n;
            u32(b, m->capabilities);
            zeros(b, 16);
            u16(b, 1);
            uint16_t n = 0;
            for (size_t i = 0; i < G_N_ELEMENTS(dialects); i++)
                n += offers(m, dialects[i]);
            u16(b, n);
            for (size_t i = 0; i < G_N_ELEMENTS(dialects); i++)
                if (offers(m, dialects[i]))
                    u16(b, dialects[i]);
            patch32(b, in_at, off);
            patch32(b, in_at + 4, b->n - before);
            patch32(b, in_at + 12, off + (b->n - before));
        } else {
            patch32(b, in_at, here(b));
            patch32(b, in_at + 12, here(b));
            u8(b, 0);
        }
        return;
    }
    u16(b, 49); /* 2.2.32 */
    u16(b, 0);
    u32(b, m->ctl_code);
    file_id(b, fid);
    uint32_t at = b->n;
    u32(b, 0);                 /* InputOffset */
    u32(b, 0);                 /* InputCount */
    u32(b, 0);                 /* OutputOffset */
    u32(b, 0);                 /* OutputCount */
    u32(b, 0);
    u32(b, 0);
    patch32(b, at, here(b));
    patch32(b, at + 8, here(b));
    if (validate) {
        uint32_t before = b->n;
        u32(b, m->capabilities);
        zeros(b, 16);
        u16(b, 1);
        u16(b, m->dialect);
        patch32(b, at + 12, b->n - before);
    }
}

static void query_directory(Buf *b, const SmbMsg *m)
{
    if (!m->response) { /* 2.2.33 */
        u16(b, 33);
        u8(b, 0x25);           /* FileInformationClass: FileBothDirectoryInformation */
        u8(b, 0);
        u32(b, 0);
        file_id(b, m->file);
        u16(b, (uint16_t)(here(b) + 8)); /* FileNameOffset */
        u16(b, 2);
        u32(b, 65536);
        utf16(b, "*");
        return;
    }
    u16(b, 9); /* 2.2.34: no entries */
    u16(b, (uint16_t)(here(b) + 6));
    u32(b, 0);
    u8(b, 0);
}

static void change_notify(Buf *b, const SmbMsg *m)
{
    if (!m->response) { /* 2.2.35 */
        u16(b, 32);
        u16(b, 0);
        u32(b, 4096);
        file_id(b, m->file);
        u32(b, 0x3);           /* CompletionFilter: file and directory names */
        u32(b, 0);
        return;
    }
    u16(b, 9); /* 2.2.36: no entries */
    u16(b, (uint16_t)(here(b) + 6));
    u32(b, 0);
    u8(b, 0);
}

/* The InfoType and FileInfoClass on the wire: rdrsim's own classes
 * (info_type 0) are MS-FSCC's FileBasicInformation (4),
 * FileEndOfFileInformation (20), FileRenameInformation (10),
 * FileDispositionInformation (13), FileAllocationInformation (19). */
static void info_kind(const SmbMsg *m, uint8_t *type, uint8_t *cls)
{
    static const uint8_t classes[] = { [INFO_BASIC] = 4, [INFO_EOF] = 20, [INFO_RENAME] = 10,
                                       [INFO_DISPOSITION] = 13, [INFO_ALLOCATION] = 19 };
    if (m->info_type) {
        *type = m->info_type;
        *cls = (uint8_t)m->info_class;
    } else {
        *type = SMB2_0_INFO_FILE;
        *cls = m->info_class < G_N_ELEMENTS(classes) ? classes[m->info_class] : 4;
    }
}

/* A minimal self-relative security descriptor (MS-DTYP 2.4.6): no owner,
 * group or ACLs. */
static void security_descriptor(Buf *b)
{
    u8(b, 1);
    u8(b, 0);
    u16(b, 0x8000);
    zeros(b, 16);
}

/* The information a QUERY_INFO returns or a SET_INFO carries. */
static void info_buffer(Buf *b, const SmbMsg *m, uint8_t type, uint8_t cls)
{
    if (type == SMB2_0_INFO_SECURITY) {
        security_descriptor(b);
    } else if (type == SMB2_0_INFO_FILESYSTEM) {
        if (cls == FILE_FS_VOLUME_INFORMATION)
            zeros(b, 18); /* MS-FSCC 2.5.9, no label */
        else
            zeros(b, 48); /* 2.5.2 FileFsControlInformation */
    } else if (type == SMB2_0_INFO_QUOTA) {
        /* MS-FSCC 2.4.36: one entry, for S-1-1-0 (MS-DTYP 2.4.2) */
        static const uint8_t everyone[12] = { 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 };
        u32(b, 0);
        u32(b, 12);
        zeros(b, 32);
        put(b, everyone, 12);
    } else if (cls == FILE_FULL_EA_INFORMATION) {
        u32(b, 0);   /* MS-FSCC 2.4.15: one EA, "A", no value */
        u8(b, 0);
        u8(b, 1);
        u16(b, 0);
        put(b, "A", 2);
        zeros(b, 2);
    } else if (cls == 20 || cls == 19) {
        u64(b, m->length);
    } else if (cls == 13) {
        u8(b, m->delete_on_close);
    } else if (cls == 10) { /* FILE_RENAME_INFORMATION_TYPE_2 (MS-SMB2 2.2.39) */
        u8(b, 0);
        zeros(b, 7);
        u64(b, 0);
        uint32_t at = b->n;
        u32(b, 0);
        patch32(b, at, utf16(b, m->new_path));
    } else { /* 4: FileBasicInformation, MS-FSCC 2.4.7 */
        zeros(b, 32);
        u32(b, m->attributes ? m->attributes : 0x80);
        u32(b, 0);
    }
}

static void query_info(Buf *b, const SmbMsg *m)
{
    uint8_t type, cls;
    info_kind(m, &type, &cls);
    if (!m->response) { /* 2.2.37 */
        u16(b, 41);
        u8(b, type);
        u8(b, cls);
        u32(b, 4096);          /* OutputBufferLength */
        bool quota = type == SMB2_0_INFO_QUOTA;
        u16(b, quota ? (uint16_t)(here(b) + 32) : 0); /* InputBufferOffset: after the 40-byte fixed part */
        u16(b, 0);
        u32(b, quota ? 16 : 0); /* InputBufferLength */
        u32(b, type == SMB2_0_INFO_SECURITY ? 0x7u : 0); /* AdditionalInformation: owner, group, DACL */
        u32(b, 0);
        file_id(b, m->file);
        if (quota) { /* 2.2.37.1 SMB2_QUERY_QUOTA_INFO: the whole list, from the start */
            u8(b, 0);
            u8(b, 1);
            u16(b, 0);
            u32(b, 0);
            u32(b, 0);
            u32(b, 0);
        } else {
            u8(b, 0);
        }
        return;
    }
    u16(b, 9); /* 2.2.38 */
    u16(b, (uint16_t)(here(b) + 6));
    uint32_t at = b->n, before;
    u32(b, 0);
    before = b->n;
    info_buffer(b, m, type, cls);
    patch32(b, at, b->n - before);
}

static void set_info(Buf *b, const SmbMsg *m)
{
    if (m->response) { /* 2.2.40 */
        u16(b, 2);
        return;
    }
    uint8_t type, cls;
    info_kind(m, &type, &cls);
    u16(b, 33); /* 2.2.39 */
    u8(b, type);
    u8(b, cls);
    uint32_t at = b->n;
    u32(b, 0);                 /* BufferLength */
    u16(b, (uint16_t)(here(b) + 24)); /* BufferOffset: after the 32-byte fixed part */
    u16(b, 0);
    u32(b, type == SMB2_0_INFO_SECURITY ? 0x4u : 0); /* AdditionalInformation: the DACL */
    file_id(b, m->file);
    uint32_t before = b->n;
    info_buffer(b, m, type, cls);
    patch32(b, at, b->n - before);
}

static void oplock_break(Buf *b, const SmbMsg *m)
{
    if (m->oplock == OPLOCK_LEVEL_LEASE) {
        if (m->msg_id == SMB2_UNSOLICITED) { /* 2.2.23.2 */
            u16(b, 44);
            u16(b, m->epoch);  /* NewEpoch */
            u32(b, m->ack_required ? 0x1u : 0);
            lease_key(b, m->lease_key);
            u32(b, m->lease_from);
            u32(b, m->lease_state);
            u32(b, 0);
            u32(b, 0);
            u32(b, 0);
            return;
        }
        u16(b, 36); /* 2.2.24.2, 2.2.25.2 */
        u16(b, 0);
        u32(b, 0);
        lease_key(b, m->lease_key);
        u32(b, m->lease_state);
        u64(b, 0);
        return;
    }
    u16(b, 24); /* 2.2.23.1, 2.2.24.1, 2.2.25.1 */
    u8(b, (uint8_t)m->oplock);
    u8(b, 0);
    u32(b, 0);
    file_id(b, m->file);
}

static void build(Buf *b, const SmbMsg *m, const char *server)
{
    if (b->out) {
        zeros(b, NBSS);
        header(b, m);
    } else {
        b->n = NBSS + 64; /* sizing, once per message sent: the fixed parts are only counted */
    }
    bool error = m->response && m->status != STATUS_SUCCESS && m->status != STATUS_BUFFER_OVERFLOW;
    if (error) {
        if (b->out)
            error_body(b);
        else
            b->n += 9;
    } else {
        switch (m->cmd) {
        case SMB2_NEGOTIATE: negotiate(b, m); break;
        case SMB2_SESSION_SETUP: session_setup(b, m); break;
        case SMB2_TREE_CONNECT: tree_connect(b, m, server); break;
        case SMB2_CREATE: create(b, m); break;
        case SMB2_CLOSE: close_msg(b, m); break;
        case SMB2_FLUSH: flush(b, m); break;
        case SMB2_READ: read_msg(b, m); break;
        case SMB2_WRITE: write_msg(b, m); break;
        case SMB2_LOCK: lock(b, m); break;
        case SMB2_IOCTL: ioctl(b, m); break;
        case SMB2_QUERY_DIRECTORY: query_directory(b, m); break;
        case SMB2_CHANGE_NOTIFY: change_notify(b, m); break;
        case SMB2_QUERY_INFO: query_info(b, m); break;
        case SMB2_SET_INFO: set_info(b, m); break;
        case SMB2_OPLOCK_BREAK: oplock_break(b, m); break;
        default: small(b); break; /* LOGOFF, TREE_DISCONNECT, ECHO, CANCEL */
        }
    }
    /* 2.1: a zero byte, then the length of the SMB2 message in 24 bits */
    uint32_t len = b->n - NBSS + b->data;
    if (b->out) {
        b->out[0] = 0;
        b->out[1] = (uint8_t)(len >> 16);
        b->out[2] = (uint8_t)(len >> 8);
        b->out[3] = (uint8_t)len;
    }
}

uint32_t smb2_wire_size(const SmbMsg *m, const char *server)
{
    Buf b = { NULL, 0, 0 };
    build(&b, m, server);
    return b.n + b.data;
}

uint32_t smb2_wire_head(const SmbMsg *m, const char *server)
{
    Buf b = { NULL, 0, 0 };
    build(&b, m, server);
    return b.n;
}

uint32_t smb2_wire_encode(const SmbMsg *m, const char *server, uint8_t *out)
{
    Buf b = { out, 0, 0 };
    build(&b, m, server);
    return b.n;
}
