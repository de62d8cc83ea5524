/* The WebDAV redirector and service, rule by rule: the HTTP status to
 * NTSTATUS table (the WebClient's), messages' sizes from their real heads,
 * bodies put together from their records, and each server rule in a run of
 * its own: credentials, a missing share, a lock's time-out, a PUT with no
 * collection to go in, a lock lost with a restart, a DELETE of a file open
 * over SMB, close-to-open consistency judged by the coherence oracle,
 * directories made by either protocol, and the language's refusals. */
#include <glib.h>
#include <string.h>

#include "cli.h"
#include "http.h"

/* docs/models.md, "WebDAV: HTTP status to NTSTATUS". */
static void test_status_map(void)
{
    static const struct {
        int http;
        NTSTATUS st;
    } t[] = {
        { 200, STATUS_SUCCESS },           { 201, STATUS_SUCCESS },
        { 204, STATUS_SUCCESS },           { 206, STATUS_SUCCESS },
        { 207, STATUS_SUCCESS },           { 304, STATUS_SUCCESS },
        { 301, STATUS_OBJECT_NAME_NOT_FOUND }, { 400, STATUS_INVALID_PARAMETER },
        { 401, STATUS_ACCESS_DENIED },     { 403, STATUS_ACCESS_DENIED },
        { 404, STATUS_OBJECT_NAME_NOT_FOUND }, { 405, STATUS_ACCESS_DENIED },
        { 408, STATUS_IO_TIMEOUT },        { 409, STATUS_INVALID_PARAMETER },
        { 410, STATUS_OBJECT_NAME_NOT_FOUND }, { 412, STATUS_INVALID_PARAMETER },
        { 423, STATUS_ACCESS_DENIED },     { 424, STATUS_INVALID_PARAMETER },
        { 449, STATUS_RETRY },             { 500, STATUS_UNSUCCESSFUL },
        { 501, STATUS_NOT_SUPPORTED },     { 502, STATUS_HOST_UNREACHABLE },
        { 503, STATUS_UNSUCCESSFUL },      { 504, STATUS_HOST_UNREACHABLE },
        { 505, STATUS_NOT_SUPPORTED },     { 507, STATUS_QUOTA_EXCEEDED },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(t); i++)
        if (http_to_ntstatus(t[i].http) != t[i].st)
            g_error("%d maps to %s, not %s", t[i].http, ntstatus_name(http_to_ntstatus(t[i].http)),
                    ntstatus_name(t[i].st));
}

/* A message's bytes are its head as sent, and its body. */
static void test_head(void)
{
    HttpWire *w = http_wire_new(NULL, NULL);
    HttpMsg *m = http_msg_new(w, HTTP_GET, "/public/a.doc");
    m->host = g_strdup("srv");
    m->user = g_strdup("alice");
    m->password = g_strdup("secret");
    m->has_range = true;
    m->range_start = 100;
    m->range_end = 200;
    m->if_range = 0xabc;
    GString *h = http_head(m);
    g_assert_true(g_str_has_prefix(h->str, "GET /public/a.doc HTTP/1.1\r\nHost: srv\r\n"));
    g_assert_nonnull(strstr(h->str, "Authorization: Basic YWxpY2U6c2VjcmV0\r\n")); /* RFC 7617 */
    g_assert_nonnull(strstr(h->str, "Range: bytes=100-199\r\n"));                   /* RFC 9110 14.1.2 */
    g_assert_nonnull(strstr(h->str, "If-Range: \"0000000000000abc\"\r\n"));
    g_assert_true(g_str_has_suffix(h->str, "Content-Length: 0\r\n\r\n"));
    g_assert_cmpuint(http_msg_bytes(m), ==, h->len);
    HttpMsg *r = http_response_to(m, 206);
    r->has_range = true;
    r->range_start = 100;
    r->range_end = 200;
    r->size = 1000;
    r->body = 100;
    GString *rh = http_head(r);
    g_assert_true(g_str_has_prefix(rh->str, "HTTP/1.1 206 Partial Content\r\n"));
    g_assert_nonnull(strstr(rh->str, "Content-Range: bytes 100-199/1000\r\n"));
    g_assert_cmpuint(http_msg_bytes(r), ==, rh->len + 100);
    g_string_free(h, TRUE);
    g_string_free(rh, TRUE);
    http_msg_free(m);
    http_msg_free(r);
    http_wire_free(w);
}

/* A body in pieces: the message is whole with its last piece, and a
 * receiver knows how much of it came before. */
static void test_assemble(void)
{
    HttpWire *w = http_wire_new(NULL, NULL);
    HttpRx rx = { 0 };
    HttpMsg *m = http_msg_new(w, HTTP_GET, "/x");
    m->response = true;
    m->request = 7;
    m->body = 3 * HTTP_PIECE;
    m->piece = HTTP_PIECE;
    g_assert_null(http_assemble(&rx, m));
    g_assert_cmpuint(rx.got, ==, HTTP_PIECE);
    for (int i = 0; i < 2; i++) {
        HttpMsg *p = http_msg_new(w, HTTP_GET, "/x");
        p->response = true;
        p->request = 7;
        p->is_piece = true;
        p->piece = HTTP_PIECE;
        HttpMsg *whole = http_assemble(&rx, p);
        if (i == 0) {
            g_assert_null(whole);
            g_assert_cmpuint(rx.got, ==, 2 * HTTP_PIECE);
        } else {
            g_assert_true(whole == m);
        }
    }
    http_msg_free(m);
    http_rx_clear(&rx);
    http_wire_free(w);
}

static char *run_text(const char *name, const char *text)
{
    char *s = write_scenario(name, text);
    char *db = g_strconcat(s, ".db", NULL);
    char *err = NULL;
    int rc = rdrsim(NULL, &err, "run", "-q", "--trace", "all", "-o", db, s, NULL);
    if (rc != 0)
        g_error("%s: exit %d: %s", name, rc, err);
    g_free(err);
    g_free(s);
    return db;
}

#define WORLD                                                                                                          \
    "client c1 redirectors=dav\n"                                                                                      \
    "client c2 redirectors=dav\n"                                                                                      \
    "client c3 redirectors=smb\n"                                                                                      \
    "server srv services=smb,webdav\n"                                                                                 \
    "link c1 srv latency=1ms\n"                                                                                        \
    "link c2 srv latency=1ms\n"                                                                                        \
    "link c3 srv latency=1ms\n"                                                                                        \
    "share public server=srv\n"                                                                                        \
    "file a share=public path=a.doc size=8KiB\n"                                                                       \
    "user alice server=srv password=secret\n"                                                                          \
    "redirector smb\n"

/* 401 for credentials the server does not take: STATUS_ACCESS_DENIED; a
 * missing share, 404 on its PROPFIND: STATUS_BAD_NETWORK_NAME. */
static void test_credentials_and_shares(void)
{
    char *db = run_text("creds.rsim", "scenario creds stop=5s\n" WORLD "redirector dav kind=webdav\n"
                                      "at 1s c1 open h1 \\\\srv\\public\\a.doc user=alice password=wrong\n"
                                      "at 1s c2 open h2 \\\\srv\\nosuch\\a.doc user=alice password=secret\n");
    ASSERT_QUERY(db, "SELECT group_concat(node || ' ' || status, ', ') FROM (SELECT node, status FROM ops ORDER BY node)",
                 "c1 STATUS_ACCESS_DENIED, c2 STATUS_BAD_NETWORK_NAME");
    ASSERT_QUERY(db, "SELECT group_concat(status) FROM http_messages WHERE is_response AND method = 'PROPFIND' "
                     "ORDER BY peer", "401,404");
    g_free(db);
}

/* A lock ends with its time-out (RFC 4918 6.6): another client's LOCK is
 * then granted; before it, 423. */
static void test_lock_timeout(void)
{
    char *db = run_text("locktime.rsim", "scenario locktime stop=20s\n" WORLD
                                         "redirector dav kind=webdav lock_timeout=3s\n"
                                         "at 1s c1 open h1 \\\\srv\\public\\a.doc user=alice password=secret\n"
                                         "at 2s c2 open h2 \\\\srv\\public\\a.doc user=alice password=secret\n"
                                         "at 5s c2 open h3 \\\\srv\\public\\a.doc user=alice password=secret\n");
    ASSERT_QUERY(db, "SELECT group_concat(status, ' ') FROM (SELECT status FROM ops WHERE node = 'c2' ORDER BY "
                     "t_start_ns)", "STATUS_ACCESS_DENIED STATUS_SUCCESS");
    ASSERT_QUERY(db, "SELECT group_concat(status) FROM (SELECT status FROM http_messages WHERE is_response AND "
                     "method = 'LOCK' ORDER BY t_ns)", "200,423,200");
    g_free(db);
}

/* A PUT where no collection holds it: 409 (RFC 4918 9.7.1), which the
 * WebClient reports as STATUS_INVALID_PARAMETER. */
static void test_put_without_collection(void)
{
    char *db = run_text("nocol.rsim", "scenario nocol stop=5s\n" WORLD "redirector dav kind=webdav\n"
                                      "at 1s c1 open h1 \\\\srv\\public\\nodir\\b.doc user=alice password=secret "
                                      "disposition=create\n");
    ASSERT_QUERY(db, "SELECT status FROM ops", "STATUS_INVALID_PARAMETER");
    ASSERT_QUERY(db, "SELECT status FROM http_messages WHERE is_response AND method = 'PUT'", "409");
    g_free(db);
}

/* A rename onto a name in use: MOVE with Overwrite: F is 412 (RFC 4918
 * 9.9.4), STATUS_INVALID_PARAMETER to the application; both files stay. */
static void test_move_onto_existing(void)
{
    char *db = run_text("move.rsim", "scenario move stop=5s\n" WORLD "redirector dav kind=webdav\n"
                                     "file b share=public path=b.doc size=1KiB\n"
                                     "at 1s c1 open h1 \\\\srv\\public\\a.doc user=alice password=secret access=rwd\n"
                                     "at 2s c1 info h1 what=rename to=b.doc\n"
                                     "at 3s c1 close h1\n"
                                     "at 4s c2 open h2 \\\\srv\\public\\b.doc user=alice password=secret "
                                     "access=r disposition=open\n");
    ASSERT_QUERY(db, "SELECT status FROM http_messages WHERE is_response AND method = 'MOVE'", "412");
    ASSERT_QUERY(db, "SELECT status FROM ops WHERE op = 'rename'", "STATUS_INVALID_PARAMETER");
    ASSERT_QUERY(db, "SELECT status FROM ops WHERE node = 'c2'", "STATUS_SUCCESS");
    g_free(db);
}

/* A restart of the server loses its locks (DAVFS keeps them in memory):
 * the next LOCK of the file is granted. */
static void test_restart_loses_locks(void)
{
    char *db = run_text("restart.rsim", "scenario restart stop=10s\n" WORLD "redirector dav kind=webdav\n"
                                        "at 1s c1 open h1 \\\\srv\\public\\a.doc user=alice password=secret\n"
                                        "at 2s server srv restart\n"
                                        "at 3s c2 open h2 \\\\srv\\public\\a.doc user=alice password=secret\n");
    ASSERT_QUERY(db, "SELECT group_concat(status) FROM (SELECT status FROM http_messages WHERE is_response AND "
                     "method = 'LOCK' ORDER BY t_ns)", "200,200");
    g_free(db);
}

/* A DELETE of a file an SMB client holds open: 423, the file stays. */
static void test_delete_of_open_file(void)
{
    char *db = run_text("del.rsim", "scenario del stop=10s\n" WORLD "redirector dav kind=webdav\n"
                                    "at 1s c3 open h0 \\\\srv\\public\\a.doc user=alice password=secret access=r "
                                    "oplock=none\n"
                                    "at 2s c1 open h1 \\\\srv\\public\\a.doc user=alice password=secret access=r\n"
                                    "at 2.5s c1 info h1 what=delete\n"
                                    "at 3s c1 close h1\n"
                                    "at 4s c2 open h2 \\\\srv\\public\\a.doc user=alice password=secret access=r "
                                    "disposition=open\n");
    ASSERT_QUERY(db, "SELECT status FROM http_messages WHERE is_response AND method = 'DELETE'", "423");
    ASSERT_QUERY(db, "SELECT status FROM ops WHERE node = 'c2'", "STATUS_SUCCESS");
    g_free(db);
}

/* Close-to-open: a WebDAV reader's copy is of its open; an SMB write
 * after that is not in it, and the oracle does not count that against
 * it (the read is judged against what was published at the download);
 * the next open downloads the new version. */
static void test_close_to_open(void)
{
    char *db = run_text("cto.rsim", "scenario cto stop=20s\n" WORLD "redirector dav kind=webdav\n"
                                    "at 1s c1 open h1 \\\\srv\\public\\a.doc user=alice password=secret access=r\n"
                                    "at 2s c3 open h2 \\\\srv\\public\\a.doc user=alice password=secret oplock=none\n"
                                    "at 2.5s c3 write h2 offset=0 length=4096\n"
                                    "at 3s c3 close h2\n"
                                    "at 4s c1 read h1 offset=0 length=4096\n"
                                    "at 5s c1 close h1\n"
                                    "at 6s c1 open h3 \\\\srv\\public\\a.doc user=alice password=secret access=r\n"
                                    "at 7s c1 read h3 offset=0 length=4096\n");
    ASSERT_QUERY(db, "SELECT status FROM runs", "complete");
    ASSERT_QUERY(db, "SELECT count(*) FROM http_messages WHERE method = 'GET' AND is_response AND status = 200", "2");
    /* the first read came from the copy of the first open, no request; the
     * second open found a new entity tag and downloaded the file again */
    ASSERT_QUERY(db, "SELECT count(*) FROM http_messages WHERE t_ns BETWEEN 3900000000 AND 4100000000", "0");
    ASSERT_QUERY(db, "SELECT count(*) FROM http_messages WHERE method = 'GET' AND is_response AND t_ns > 6000000000",
                 "1");
    ASSERT_QUERY(db, "SELECT value FROM metrics WHERE name = 'coherence.reads_judged'", "2.0");
    g_free(db);
}

/* A directory made over SMB (CREATE with FILE_DIRECTORY_FILE, through
 * RDBSS) is a collection to WebDAV; one made over WebDAV (MKCOL) a
 * directory to SMB; and a file is not a directory to either. */
static void test_directories_both_ways(void)
{
    char *db = run_text("dirs.rsim", "scenario dirs stop=10s\n" WORLD "redirector dav kind=webdav\n"
                                     "at 1s c3 open h1 \\\\srv\\public\\fromsmb user=alice password=secret "
                                     "directory=yes disposition=create oplock=none\n"
                                     "at 1.5s c3 close h1\n"
                                     "at 2s c1 open h2 \\\\srv\\public\\fromsmb user=alice password=secret "
                                     "directory=yes disposition=open\n"
                                     "at 2s c2 open h3 \\\\srv\\public\\fromdav user=alice password=secret "
                                     "directory=yes disposition=create\n"
                                     "at 3s c3 open h4 \\\\srv\\public\\fromdav user=alice password=secret "
                                     "directory=yes disposition=open oplock=none\n"
                                     "at 4s c1 open h5 \\\\srv\\public\\a.doc user=alice password=secret "
                                     "directory=yes disposition=open\n");
    ASSERT_QUERY(db, "SELECT group_concat(node || ' ' || status, ', ') FROM (SELECT node, status FROM ops WHERE "
                     "op = 'open' ORDER BY t_start_ns, node)",
                 "c3 STATUS_SUCCESS, c1 STATUS_SUCCESS, c2 STATUS_SUCCESS, c3 STATUS_SUCCESS, "
                 "c1 STATUS_NOT_A_DIRECTORY");
    ASSERT_QUERY(db, "SELECT count(*) FROM http_messages WHERE method = 'MKCOL' AND status = 201", "1");
    ASSERT_QUERY(db, "SELECT count(*) FROM smb_creates WHERE create_action = 'CREATED'", "1");
    g_free(db);
}

/* Every run writes its HTTP requests' times (http.METHOD.*, from the first
 * sending to the response, retries included), and `compare` judges them:
 * a server 5 ms slower to serve is a regression of each method. */
static void test_compare_http(void)
{
    const char *top = g_getenv("RDRSIM_TOP") ? g_getenv("RDRSIM_TOP") : ".";
    char *src = g_strdup_printf("%s/scenarios/dav-files.rsim", top);
    char *base = path_in("cmp-base.db"), *slow = path_in("cmp-slow.db");
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", base, src, NULL), ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "--set", "server.srv.service=5ms", "-o", slow,
                           src, NULL), ==, 0);
    ASSERT_QUERY(base, "SELECT value FROM metrics WHERE name = 'http.PROPFIND.p50_ns'", "10000000.0");
    ASSERT_QUERY(slow, "SELECT value FROM metrics WHERE name = 'http.PROPFIND.p50_ns'", "15000000.0");
    char *out = NULL;
    g_assert_cmpint(rdrsim(&out, NULL, "compare", base, slow, NULL), ==, 1);
    char **lines = g_strsplit(out, "\n", -1);
    int seen = 0;
    for (char **l = lines; *l; l++)
        if (strstr(*l, "http.PROPFIND.p50_ns") || strstr(*l, "http.GET.p50_ns")) {
            g_assert_nonnull(strstr(*l, "REGRESSION"));
            seen++;
        }
    g_assert_cmpint(seen, ==, 2);
    g_strfreev(lines);
    g_free(out);
    g_free(base);
    g_free(slow);
    g_free(src);
}

/* The language: a kind or a service rdrsim does not know, at its column. */
static void test_refusals(void)
{
    char *bad = write_scenario("badkind.rsim", "client c1 redirectors=x\nserver srv\nlink c1 srv\n"
                                               "redirector x kind=ftp\n");
    char *err = NULL;
    g_assert_cmpint(rdrsim(NULL, &err, "check", bad, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "badkind.rsim:4:"));
    g_assert_nonnull(strstr(err, "expected smb or webdav"));
    g_free(err);
    g_free(bad);
    bad = write_scenario("badsvc.rsim", "server srv services=smb,nfs\n");
    g_assert_cmpint(rdrsim(NULL, &err, "check", bad, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "badsvc.rsim:1:"));
    g_assert_nonnull(strstr(err, "'nfs' is not a protocol"));
    g_free(err);
    g_free(bad);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("rdrsim-dav-XXXXXX", NULL);
    g_test_add_func("/dav/status-map", test_status_map);
    g_test_add_func("/dav/head", test_head);
    g_test_add_func("/dav/assemble", test_assemble);
    g_test_add_func("/dav/credentials-and-shares", test_credentials_and_shares);
    g_test_add_func("/dav/lock-timeout", test_lock_timeout);
    g_test_add_func("/dav/put-without-collection", test_put_without_collection);
    g_test_add_func("/dav/move-onto-existing", test_move_onto_existing);
    g_test_add_func("/dav/restart-loses-locks", test_restart_loses_locks);
    g_test_add_func("/dav/delete-of-open-file", test_delete_of_open_file);
    g_test_add_func("/dav/close-to-open", test_close_to_open);
    g_test_add_func("/dav/directories-both-ways", test_directories_both_ways);
    g_test_add_func("/dav/compare-http", test_compare_http);
    g_test_add_func("/dav/refusals", test_refusals);
    int rc = g_test_run();
    remove_tree(dir);
    g_free(dir);
    return rc;
}
