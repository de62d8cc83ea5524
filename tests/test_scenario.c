/* The scenario language: valid input, --set, and malformed input with the
 * line and column of the first error. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "expect.h"
#include "partition.h"
#include "scenario.h"
#include "world.h"

#define HEAD "client c1\nserver srv\nlink c1 srv latency=2ms\n"

static Scenario *parse(const char *text)
{
    Scenario *sc = scenario_parse("t.rsim", text, world_schema());
    if (sc->errors->len == 0) {
        world_check(sc);
        expect_validate(sc);
    }
    return sc;
}

static void test_valid(void)
{
    Scenario *sc = parse("# a comment line\n"
                         "scenario demo seed=42 stop=1.5s   # trailing comment\n"
                         "client c1\n"
                         "server srv\n"
                         "link c1 srv latency=2ms jitter=normal(0,200us) loss=0.5% bandwidth=1Gbit queue=64KiB\n"
                         "\n"
                         "at 10ms c1 ping srv count=3 interval=1ms bytes=100\n"
                         "at +5ms link c1 srv loss=20% latency=1us\n"
                         "at +1ms link c1 srv down for=5s\n"
                         "at 1ms link srv c1 up\n"
                         "expect \"SELECT count(*) FROM packets\" >= 3\n"
                         "expect 'SELECT fate FROM packets LIMIT 1' != 'lost'\n"
                         "expect \"SELECT NULL\" = null\n"
                         "expect \"SELECT 2000000\" = 2ms\n");
    if (sc->errors->len)
        scenario_print_errors(sc, stderr);
    g_assert_cmpuint(sc->errors->len, ==, 0);
    g_assert_cmpstr(sc->name, ==, "demo");
    g_assert_cmpuint(scenario_seed(sc), ==, 42);
    g_assert_cmpint(scenario_stop(sc), ==, 1500000000);
    Decl *link = scenario_find_decl(sc, "link", "c1-srv");
    g_assert_nonnull(link);
    g_assert_true(scenario_find_decl(sc, "link", "srv-c1") == link);
    g_assert_cmpint(decl_param(link, "latency")->i, ==, 2000000);
    g_assert_cmpfloat(decl_param(link, "loss")->r, ==, 0.005);
    g_assert_cmpint(decl_param(link, "bandwidth")->i, ==, 1000000000);
    g_assert_cmpint(decl_param(link, "queue")->i, ==, 65536);
    g_assert_cmpint(decl_param(link, "mtu")->i, ==, 1500); /* default */
    g_assert_false(decl_param(link, "mtu")->given);
    const Dist *j = &decl_param(link, "jitter")->dist;
    g_assert_cmpint(j->kind, ==, DIST_NORMAL);
    g_assert_cmpfloat(j->b, ==, 200000);
    g_assert_cmpstr(decl_param(link, "jitter")->text, ==, "normal(0,200us)");

    /* The timeline is sorted by time; relative times follow the previous line. */
    g_assert_cmpuint(sc->actions->len, ==, 4);
    SimTime want[] = { 1000000, 10000000, 15000000, 16000000 };
    for (guint i = 0; i < 4; i++)
        g_assert_cmpint(((Action *)g_ptr_array_index(sc->actions, i))->at, ==, want[i]);
    Action *ping = g_ptr_array_index(sc->actions, 1);
    g_assert_cmpstr(ping->args[0], ==, "srv");
    g_assert_cmpint(action_param(ping, "count")->i, ==, 3);
    Action *change = g_ptr_array_index(sc->actions, 2);
    g_assert_null(change->spec->verb);
    int loss = decl_param_index(link->spec, "loss");
    g_assert_true(change->changed[loss]);
    g_assert_false(change->changed[decl_param_index(link->spec, "mtu")]);
    g_assert_cmpfloat(change->values[loss].r, ==, 0.2);

    g_assert_cmpuint(sc->expects->len, ==, 4);
    Expect *e = g_ptr_array_index(sc->expects, 1);
    g_assert_cmpstr(e->value, ==, "lost");
    g_assert_false(e->numeric);
    g_assert_null(((Expect *)g_ptr_array_index(sc->expects, 2))->value);
    g_assert_cmpfloat(((Expect *)g_ptr_array_index(sc->expects, 3))->number, ==, 2e6);
    scenario_free(sc);
}

static void test_defaults_and_name(void)
{
    Scenario *sc = scenario_parse("dir/my-test.rsim", HEAD, world_schema());
    g_assert_cmpuint(sc->errors->len, ==, 0);
    g_assert_cmpstr(sc->name, ==, "my-test");
    g_assert_cmpuint(scenario_seed(sc), ==, 1);
    g_assert_cmpint(scenario_stop(sc), ==, 60 * SIM_SEC);
    scenario_free(sc);
}

static void test_overrides(void)
{
    Scenario *sc = parse(HEAD);
    char *err = NULL;
    g_assert_true(scenario_override(sc, "link.c1-srv.loss=5%", &err));
    g_assert_true(scenario_override(sc, "link.srv-c1.jitter=exp(1ms)", &err));
    g_assert_true(scenario_override(sc, "scenario.seed=9", &err));
    g_assert_true(scenario_override(sc, "scenario.stop=2min", &err));
    Decl *link = scenario_find_decl(sc, "link", "c1-srv");
    g_assert_cmpfloat(decl_param(link, "loss")->r, ==, 0.05);
    g_assert_cmpint(decl_param(link, "jitter")->dist.kind, ==, DIST_EXPONENTIAL);
    g_assert_cmpuint(scenario_seed(sc), ==, 9);
    g_assert_cmpint(scenario_stop(sc), ==, 120 * SIM_SEC);
    g_assert_cmpuint(sc->overrides->len, ==, 4);

    static const struct {
        const char *set, *msg;
    } bad[] = {
        { "link.c1-srv.loss", "expected NAME=VALUE" },
        { "link.c1-srv.los=1%", "has no key 'los'" },
        { "link.c9-srv.loss=1%", "no link 'c9-srv'" },
        { "link.c1-srv.loss=abc", "expected a probability" },
        { "link.c1-srv.loss=150%", "outside [0, 1]" },
        { "link.c1-srv.latency=5ms 6ms", "unexpected '6ms'" },
        { "scenario.nope=1", "has no key 'nope'" },
        { "bogus=1", "unknown name" },
        { "=1", "expected NAME=VALUE" },
        { "link.c1-srv.jitter=normal(1ms", "expected ',' or ')'" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        err = NULL;
        g_assert_false(scenario_override(sc, bad[i].set, &err));
        if (!strstr(err, bad[i].msg))
            g_error("--set %s: got '%s', expected it to say '%s'", bad[i].set, err, bad[i].msg);
        g_free(err);
    }
    /* A refused override changes nothing. */
    g_assert_cmpfloat(decl_param(link, "loss")->r, ==, 0.05);
    scenario_free(sc);
}

typedef struct {
    const char *text;
    int line, col;
    const char *msg;
} Bad;

static const Bad bad_inputs[] = {
    /* workloads */
    { "client c1 redirectors=smb\nserver srv\nshare p server=srv\nredirector smb\n"
      "workload c1 share=\\\\srv\\p\\x\n", 5, 13, "expected \\\\SERVER\\SHARE" },
    { "client c1 redirectors=smb\nserver srv\nshare p server=srv\nredirector smb\n"
      "workload c1 share=\\\\srv\\q\n", 5, 13, "no share 'q' is declared on server 'srv'" },
    { "client c1 redirectors=smb\nserver srv\nshare p server=srv\nredirector smb\n"
      "workload c1 share=\\\\srv\\p mix=read:6,jump:1\n", 5, 27, "unknown operation 'jump'" },
    { "server srv\nshare p server=srv\nworkload srv share=\\\\srv\\p\n", 3, 1, "not a client with redirectors=" },
    /* groups */
    { "client c[0..3]\n", 1, 8, "group range c[0..3]" },
    { "client c[1..200000]\n", 1, 8, "at most 100000 members" },
    { "client c[5..2]\n", 1, 8, "group range" },
    { "client c[*]\n", 1, 8, "a group is declared with a range" },
    { "client c[1..x]\n", 1, 8, "invalid name 'c[1..x]'" },
    { "server srv\nlink d[*] srv\n", 2, 6, "no group 'd'" },
    { "client c[1..3]\nclient c[1..2]\n", 2, 8, "'c1' is declared twice" },
    { "client c[1..3]\nserver s[1..2]\nlink c[*] s[*]\n", 3, 11, "only one name of a link may be a group" },
    { "client c1\nserver srv\nlink c1 srv latency=uniform(1ms,2ms)\n", 3, 21, "not a function" },
    { "client c[1..2]\nserver srv\nlink c[*] srv latency=uniform(1ms,2s,3)\n", 3, 23, "" },
    { "scenario x seed=abc\n", 1, 17, "expected an integer" },
    { "scenario x seed=1 stop=0\n", 1, 24, "too small" },
    { "scenario\n", 1, 9, "expected a scenario name" },
    { "scenario x\nscenario y\n", 2, 1, "only once" },
    { "client c1\nclient c1\n", 2, 8, "declared twice" },
    { "client 1c\n", 1, 8, "invalid name" },
    { "client at\n", 1, 8, "keyword" },
    { "client c1 color=red\n", 1, 11, "unknown key 'color'" },
    { "frobnicate x\n", 1, 1, "unknown statement" },
    { "client c1\nlink c1 c2\n", 2, 9, "unknown node 'c2'" },
    { "client c1\nlink c1 c1\n", 2, 9, "two different nodes" },
    { HEAD "link c1 srv\n", 4, 1, "declared twice" },
    { HEAD "link srv c1\n", 4, 1, "declared twice" },
    { "client c1\nserver srv\nlink c1 srv latency=5\n", 3, 21, "expected a time" },
    { "client c1\nserver srv\nlink c1 srv loss=1.5\n", 3, 18, "outside [0, 1]" },
    { "client c1\nserver srv\nlink c1 srv bandwidth=10Mbyte\n", 3, 23, "expected a rate" },
    { "client c1\nserver srv\nlink c1 srv jitter=gamma(1ms)\n", 3, 20, "unknown distribution" },
    { "client c1\nserver srv\nlink c1 srv jitter=normal(1ms)\n", 3, 20, "takes 2 arguments" },
    { "client c1\nserver srv\nlink c1 srv jitter=uniform(3ms,1ms)\n", 3, 20, "a <= b" },
    { "client c1\nserver srv\nlink c1 srv latency=1ms,2ms\n", 3, 25, "not a list" },
    { "client c1\nserver srv\nlink c1 srv latency=\n", 3, 21, "expected a value" },
    { "client c1\nserver srv\nlink c1 srv latency=1ms latency=2ms\n", 3, 25, "given twice" },
    { "client c1\nserver srv\nlink c1 srv mtu=10\n", 3, 17, "too small" },
    { HEAD "at\n", 4, 3, "expected a time" },
    { HEAD "at -5ms c1 ping srv\n", 4, 4, "must not be negative" },
    { HEAD "at 5 c1 ping srv\n", 4, 4, "expected a time" },
    { HEAD "at 5ms\n", 4, 7, "expected a node name" },
    { HEAD "at 5ms c9 ping srv\n", 4, 8, "unknown node 'c9'" },
    { HEAD "at 5ms c1 fly\n", 4, 11, "unknown action 'fly'" },
    { HEAD "at 5ms c1 ping\n", 4, 15, "expects 1 argument" },
    { HEAD "at 5ms c1 ping srv count=0\n", 4, 26, "too small" },
    { HEAD "at 5ms c1 ping srv extra\n", 4, 20, "expected KEY=VALUE" },
    { HEAD "at 5ms link c1 srv\n", 4, 19, "expected an action" },
    { HEAD "at 5ms link c1 zz down\n", 4, 13, "no link 'c1-zz'" },
    { HEAD "at 5ms link c1 srv explode\n", 4, 20, "unknown action 'explode'" },
    { HEAD "at 5ms link c1 srv mtu=1\n", 4, 24, "too small" },
    { HEAD "at 5ms c1 ping srv\nclient c2\n", 5, 1, "before the timeline" },
    { HEAD "expect SELECT = 1\n", 4, 8, "expected a quoted SQL query" },
    { HEAD "expect \"SELECT 1\" ~ 1\n", 4, 19, "expected one of = != < <= > >=" },
    { HEAD "expect \"SELECT 1\" == 1\n", 4, 20, "expected a number" },
    { HEAD "expect \"SELECT 1\" ` 1\n", 4, 19, "unexpected character '`'" },
    { HEAD "expect \"SELECT 1\" =\n", 4, 20, "expected a number" },
    { HEAD "expect \"SELECT 1\" = abc\n", 4, 21, "expected a number" },
    { HEAD "expect \"SELECT 1\" < null\n", 4, 19, "null can only" },
    { HEAD "expect \"SELECT 1\" = 1 2\n", 4, 23, "unexpected '2'" },
    { HEAD "expect \"SELEKT 1\" = 1\n", 4, 8, "does not compile" },
    { HEAD "expect \"DELETE FROM runs\" = 1\n", 4, 8, "only reads" },
    { HEAD "expect \"SELECT 1; SELECT 2\" = 1\n", 4, 8, "several statements" },
    { HEAD "expect \"SELECT * FROM nosuch\" = 1\n", 4, 8, "no such table" },
    { HEAD "expect \"SELECT 1 = 1\n", 4, 8, "unterminated string" },
    { "client c1 \x01\n", 1, 11, "unexpected byte" },
    { "client c1 {=1\n", 1, 11, "unknown key '{'" },
    { HEAD "at 5ms c1 ping nowhere\n", 4, 16, "unknown node 'nowhere'" },
    { "client c1\nserver srv\nnode n\nlink c1 n\nat 1s c1 ping srv\n", 5, 15, "no path joins c1 and srv" },
    { HEAD "at 1s c1 ping srv bytes=4000\n", 4, 1, "larger than the link's mtu" },
    { HEAD "router rtr latency=1ms\n", 4, 12, "unknown key 'latency': router takes no keys" },
    { HEAD "router rtr\nendpoint e node=rtr\n", 5, 12, "rtr is a router, which runs no transport" },
    { HEAD "router rtr\nsmbclient s node=rtr server=srv\n", 5, 13, "a router runs no client of its own" },
    { HEAD "client c2 congestion=vegas\n", 4, 11, "congestion=vegas: expected cubic, newreno or none" },
    { "\n\n   \"s\"\n", 3, 4, "expected a statement" },
};

static void test_malformed(void)
{
    int wrong = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(bad_inputs); i++) {
        const Bad *b = &bad_inputs[i];
        Scenario *sc = parse(b->text);
        ScenarioError *e = sc->errors->len ? g_ptr_array_index(sc->errors, 0) : NULL;
        if (!e || e->line != b->line || e->col != b->col || !strstr(e->msg, b->msg)) {
            g_printerr("case %zu: got %d:%d: %s\n  expected %d:%d: ...%s...\n", i, e ? e->line : 0,
                       e ? e->col : 0, e ? e->msg : "no error", b->line, b->col, b->msg);
            wrong++;
        }
        scenario_free(sc);
    }
    g_assert_cmpint(wrong, ==, 0);
    g_assert_cmpuint(G_N_ELEMENTS(bad_inputs), >=, 25);
}

static void test_errors_are_collected(void)
{
    /* One error a line, every line reported, nothing dropped. */
    Scenario *sc = parse("client c1 x=1\nserver s y=2\nlink c1 s z=3\n");
    g_assert_cmpuint(sc->errors->len, ==, 3);
    scenario_free(sc);
}

static void test_load_errors(void)
{
    Scenario *sc = scenario_load("/nonexistent/file.rsim", world_schema());
    g_assert_cmpuint(sc->errors->len, ==, 1);
    scenario_free(sc);

    char *path = NULL;
    int fd = g_file_open_tmp("rdrsim-XXXXXX.rsim", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    const char text[] = "client c1\nserver \0srv\n";
    g_assert_cmpint(write(fd, text, sizeof text - 1), ==, sizeof text - 1);
    close(fd);
    sc = scenario_load(path, world_schema());
    g_assert_cmpuint(sc->errors->len, ==, 1);
    ScenarioError *e = g_ptr_array_index(sc->errors, 0);
    g_assert_cmpint(e->line, ==, 2);
    g_assert_cmpint(e->col, ==, 8);
    g_assert_nonnull(strstr(e->msg, "NUL"));
    scenario_free(sc);
    g_unlink(path);
    g_free(path);
}

static void test_empirical(void)
{
    char *path = NULL;
    int fd = g_file_open_tmp("rdrsim-XXXXXX.txt", &path, NULL);
    const char text[] = "# delays\n1ms\n2ms\n\n3ms  # last\n";
    g_assert_cmpint(write(fd, text, sizeof text - 1), ==, sizeof text - 1);
    close(fd);
    char *src = g_strdup_printf(HEAD "at 1s link c1 srv jitter=empirical(\"%s\")\n", path);
    Scenario *sc = parse(src);
    g_assert_cmpuint(sc->errors->len, ==, 0);
    Action *a = g_ptr_array_index(sc->actions, 0);
    const Dist *d = &a->values[decl_param_index(a->target->spec, "jitter")].dist;
    g_assert_cmpint(d->kind, ==, DIST_EMPIRICAL);
    g_assert_cmpuint(d->n_values, ==, 3);
    g_assert_cmpfloat(d->values[2], ==, 3e6);
    scenario_free(sc);
    g_free(src);

    /* A bad value in the file names the file and its line. */
    g_file_set_contents(path, "1ms\nfast\n", -1, NULL);
    src = g_strdup_printf(HEAD "at 1s link c1 srv jitter=empirical('%s')\n", path);
    sc = parse(src);
    g_assert_cmpuint(sc->errors->len, ==, 1);
    ScenarioError *e = g_ptr_array_index(sc->errors, 0);
    g_assert_nonnull(strstr(e->msg, ":2: expected a time"));
    scenario_free(sc);
    g_free(src);
    g_unlink(path);
    g_free(path);
}

static void test_bundled_scenarios_parse(void)
{
    const char *top = g_getenv("RDRSIM_TOP");
    char *dir = g_build_filename(top ? top : ".", "scenarios", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    int n = 0;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".rsim"))
            continue;
        char *path = g_build_filename(dir, name, NULL);
        Scenario *sc = scenario_load(path, world_schema());
        world_check(sc);
        expect_validate(sc);
        if (sc->errors->len)
            scenario_print_errors(sc, stderr);
        g_assert_cmpuint(sc->errors->len, ==, 0);
        /* Every bundled scenario says what it expects. */
        g_assert_cmpuint(sc->expects->len, >, 0);
        scenario_free(sc);
        g_free(path);
        n++;
    }
    g_assert_cmpint(n, >, 0);
    g_dir_close(d);
    g_free(dir);
}

/* client c[1..N] declares N clients; link c[*] srv one link a member; a
 * distribution given for a numeric key is drawn per member from the
 * member's own stream: the same for a member whatever the group's size,
 * and another with another seed. */
static void test_groups(void)
{
    int64_t lat[2][3];
    const char *sizes[] = { "3", "50" };
    for (int g = 0; g < 2; g++) {
        char *text = g_strdup_printf("client c[1..%s]\nserver srv\nlink c[*] srv latency=uniform(1ms,10ms) loss=1%%\n",
                                     sizes[g]);
        Scenario *sc = parse(text);
        g_free(text);
        g_assert_cmpuint(sc->errors->len, ==, 0);
        g_assert_nonnull(scenario_find_node(sc, "c3"));
        g_assert_null(scenario_find_node(sc, g ? "c51" : "c4"));
        scenario_draw_members(sc, 7);
        for (int k = 0; k < 3; k++) {
            char id[16];
            g_snprintf(id, sizeof id, "c%d-srv", k + 1);
            Decl *l = scenario_find_decl(sc, "link", id);
            g_assert_nonnull(l);
            lat[g][k] = decl_param(l, "latency")->i;
            g_assert_cmpint(lat[g][k], >=, 1000000);
            g_assert_cmpint(lat[g][k], <, 10000000);
            g_assert_cmpfloat(decl_param(l, "loss")->r, ==, 0.01);
        }
        g_assert_cmpint(lat[g][0], !=, lat[g][1]);
        scenario_draw_members(sc, 8);
        g_assert_cmpint(decl_param(scenario_find_decl(sc, "link", "c1-srv"), "latency")->i, !=, lat[g][0]);
        scenario_free(sc);
    }
    for (int k = 0; k < 3; k++)
        g_assert_cmpint(lat[0][k], ==, lat[1][k]);
    /* a member can be overridden like any declaration */
    Scenario *sc = parse("client c[1..2]\nserver srv\nlink c[*] srv latency=exponential(5ms)\n");
    char *err = NULL;
    g_assert_true(scenario_override(sc, "link.c2-srv.latency=3ms", &err));
    scenario_draw_members(sc, 1);
    g_assert_cmpint(decl_param(scenario_find_decl(sc, "link", "c2-srv"), "latency")->i, ==, 3000000);
    scenario_free(sc);
}

/* The ids of a part's declarations, space-separated. */
static char *part_ids(const Scenario *part)
{
    GString *s = g_string_new("");
    for (guint i = 0; i < part->decls->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", ((Decl *)g_ptr_array_index(part->decls, i))->id);
    return g_string_free(s, FALSE);
}

static void test_partition(void)
{
    /* Two servers with their clients; the redirector and the scenario line
     * belong to both; user u2 is on s2, so c3 (which names u2) joins s2's
     * part though its share is named without a path; p1's ping names p2. */
    Scenario *sc = parse("scenario p stop=1s\n"
                         "server s[1..2]\nclient c[1..3] redirectors=smb\nredirector smb\n"
                         "share sh1 server=s1\nuser u1 server=s1 password=x\n"
                         "share sh2 server=s2\nuser u2 server=s2 password=x\n"
                         "link c[1..2] s1 latency=1ms\nlink c3 s2 latency=1ms\n"
                         "workload c[1..2] share=\\\\s1\\sh1 user=u1 password=x rate=1\n"
                         "workload c3 share=\\\\s2\\sh2 user=u2 password=x rate=1\n"
                         "client p1\nserver p2\nlink p1 p2 latency=1ms\nat 1ms p1 ping p2 count=1\n");
    g_assert_cmpuint(sc->errors->len, ==, 0);
    GPtrArray *parts = scenario_partition(sc);
    g_assert_nonnull(parts);
    g_assert_cmpuint(parts->len, ==, 3);
    const char *want[] = { "p s1 c1 c2 smb sh1 u1 c1-s1 c2-s1 c1 c2", "p s2 c3 smb sh2 u2 c3-s2 c3",
                           "p smb p1 p2 p1-p2" };
    for (guint i = 0; i < parts->len; i++) {
        char *ids = part_ids(g_ptr_array_index(parts, i));
        g_assert_cmpstr(ids, ==, want[i]);
        g_free(ids);
    }
    g_assert_cmpuint(((Scenario *)g_ptr_array_index(parts, 2))->actions->len, ==, 1);
    g_assert_cmpuint(((Scenario *)g_ptr_array_index(parts, 0))->actions->len, ==, 0);
    g_ptr_array_unref(parts);
    scenario_free(sc);

    /* A workload that names a user on the other server ties the parts. */
    sc = parse("server s[1..2]\nclient c[1..2] redirectors=smb\nredirector smb\n"
               "user u2 server=s2 password=x\nshare sh1 server=s1\n"
               "link c1 s1 latency=1ms\nlink c2 s2 latency=1ms\n"
               "workload c1 share=\\\\s1\\sh1 user=u2 password=x rate=1\n");
    g_assert_cmpuint(sc->errors->len, ==, 0);
    g_assert_null(scenario_partition(sc));
    scenario_free(sc);

    /* One part: nothing to split. */
    sc = parse(HEAD);
    g_assert_null(scenario_partition(sc));
    scenario_free(sc);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/scenario/valid", test_valid);
    g_test_add_func("/scenario/defaults-and-name", test_defaults_and_name);
    g_test_add_func("/scenario/overrides", test_overrides);
    g_test_add_func("/scenario/malformed", test_malformed);
    g_test_add_func("/scenario/errors-collected", test_errors_are_collected);
    g_test_add_func("/scenario/load-errors", test_load_errors);
    g_test_add_func("/scenario/empirical", test_empirical);
    g_test_add_func("/scenario/bundled", test_bundled_scenarios_parse);
    g_test_add_func("/scenario/groups", test_groups);
    g_test_add_func("/scenario/partition", test_partition);
    return g_test_run();
}
