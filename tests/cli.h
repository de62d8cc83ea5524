/* Helpers of the tests that run the program: a scratch directory, running
 * rdrsim with arguments, querying the DBs it writes. */
#ifndef RDRSIM_TESTS_CLI_H
#define RDRSIM_TESTS_CLI_H

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>

static char *dir;

static const char *bin(void)
{
    const char *b = g_getenv("RDRSIM_BIN");
    return b ? b : "build/rdrsim";
}

static char *path_in(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static char *write_scenario(const char *name, const char *text)
{
    char *p = path_in(name);
    g_assert_true(g_file_set_contents(p, text, -1, NULL));
    return p;
}

/* Run rdrsim with arguments (NULL-terminated); returns its exit status. */
static int rdrsim(char **out, char **err, ...)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)bin());
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *));)
        g_ptr_array_add(argv, a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    int wait_status;
    char *o = NULL, *e = NULL;
    GError *gerr = NULL;
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &o, &e, &wait_status, &gerr))
        g_error("spawn %s: %s", bin(), gerr->message);
    g_ptr_array_unref(argv);
    if (out)
        *out = o;
    else
        g_free(o);
    if (err)
        *err = e;
    else
        g_free(e);
    return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

static char *query(const char *db_path, const char *sql)
{
    sqlite3 *db;
    g_assert_cmpint(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
    sqlite3_busy_timeout(db, 10000); /* the run may be committing a batch */
    GString *s = g_string_new("");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        g_error("%s: %s", sql, sqlite3_errmsg(db));
    /* Every row, every column: a dump to compare. */
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const unsigned char *t = sqlite3_column_text(st, i);
            g_string_append_printf(s, "%s%s", i ? "|" : "", t ? (const char *)t : "NULL");
        }
        g_string_append_c(s, '\n');
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (s->len)
        g_string_truncate(s, s->len - 1);
    return g_string_free(s, FALSE);
}

/* Every row of every query, one after the other: a dump to compare. */
static inline char *dump_queries(const char *db, const char *const *sql, size_t n)
{
    GString *s = g_string_new("");
    for (size_t i = 0; i < n; i++) {
        char *part = query(db, sql[i]);
        g_string_append_printf(s, "%s\n--\n", part);
        g_free(part);
    }
    return g_string_free(s, FALSE);
}

#define ASSERT_QUERY(db, sql, want)                 \
    do {                                            \
        char *got_ = query(db, sql);                \
        g_assert_cmpstr(got_, ==, want);            \
        g_free(got_);                               \
    } while (0)

static void remove_tree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            char *p = g_build_filename(path, name, NULL);
            remove_tree(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_remove(path);
}

#endif
