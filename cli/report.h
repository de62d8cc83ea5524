/* report: the tables a protocol engineer reads first, from a trace DB.
 *
 * Operations by kind (count, latency percentiles), statuses by count,
 * disconnects by mode and outcome, oplock breaks by levels and outcome,
 * routine calls by name, packets by fate; and for a DB of many runs with
 * different parameters (a sweep), one summary row per parameter point.
 * A section whose table holds no rows says so in one line. */
#ifndef RDRSIM_REPORT_H
#define RDRSIM_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* FMT_HTML: a self-contained page (cli/html.h) with the figures that
 * apply to the DB beside the tables. */
typedef enum { FMT_TEXT, FMT_CSV, FMT_MARKDOWN, FMT_HTML } ReportFormat;

bool report_parse_format(const char *s, ReportFormat *out);

/* Report on run `run` (0: every run of the DB).  Returns an exit status;
 * errors (no such DB, not a trace, no such run) go to stderr. */
int report_main(const char *db_path, int64_t run, ReportFormat fmt, FILE *out);

/* A table being built, and its printing in each format (also used by
 * compare). */
typedef struct Table Table;
Table *table_new(const char *title, int ncols, const char *const *headers);
void table_add(Table *t, char **cells); /* takes ownership of ncols g_strdup'd strings */
void table_add_row(Table *t, ...);       /* ncols const char* arguments, copied */
int table_rows(const Table *t);
void table_print(const Table *t, ReportFormat fmt, FILE *out);
void table_free(Table *t);

/* The part of a run's overrides that names its parameter point: every
 * override but the seed, in order ("" when none). */
char *report_point_of(const char *overrides);
/* The value of KEY in a point ("K1=V1 K2=V2"), or NULL. */
char *report_point_value(const char *point, const char *key);

#endif
