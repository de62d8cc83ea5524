/* The fuzz targets' code paths over the checked-in inputs: the seed corpus
 * (tests/fuzz/seeds) and every input a fuzzer ever found a fault with
 * (tests/fuzz/regress), plus the bundled scenarios, under the normal build
 * and under make sanitize.  A fault found again aborts this program. */
#include <glib.h>
#include <stdio.h>

#define LLVMFuzzerTestOneInput fuzz_scenario_one
#include "fuzz/fuzz_scenario.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_expect_one
#define head expect_head
#define trace_with_run expect_trace_with_run
#include "fuzz/fuzz_expect.c"
#undef LLVMFuzzerTestOneInput

static int replay_dir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return 0;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    for (const char *n; (n = g_dir_read_name(d));)
        g_ptr_array_add(names, g_strdup(n));
    g_dir_close(d);
    g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
    int count = 0;
    for (guint i = 0; i < names->len; i++) {
        char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
        char *data = NULL;
        gsize len = 0;
        if (g_file_get_contents(path, &data, &len, NULL)) {
            fuzz_scenario_one((const uint8_t *)data, len);
            fuzz_expect_one((const uint8_t *)data, len);
            count++;
        }
        g_free(data);
        g_free(path);
    }
    g_ptr_array_unref(names);
    return count;
}

static void test_corpus(void)
{
    const char *top = g_getenv("RDRSIM_TOP");
    char *seeds = g_build_filename(top ? top : ".", "tests", "fuzz", "seeds", NULL);
    char *regress = g_build_filename(top ? top : ".", "tests", "fuzz", "regress", NULL);
    char *scen = g_build_filename(top ? top : ".", "scenarios", NULL);
    int n = replay_dir(seeds) + replay_dir(regress) + replay_dir(scen);
    g_assert_cmpint(n, >=, 12); /* the corpus is there, not silently missing */
    g_free(seeds);
    g_free(regress);
    g_free(scen);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/fuzz/corpus", test_corpus);
    return g_test_run();
}
