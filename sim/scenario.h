/* scenario: the scenario language.
 *
 * A scenario file is read line by line: declarations (`link c1 srv
 * latency=2ms`), a timeline (`at 10ms c1 ping srv`), and expectations
 * (`expect "SQL" OP VALUE`) and metrics of the run's own (`metric NAME "SQL"`).  This module knows the syntax and the value
 * types; what kinds of declaration and action exist, and which keys each
 * takes, comes from a Schema that the models provide (models/world.h).
 *
 * Parsing never stops at the first error: every error found is collected
 * with its line and column, and nothing runs if there is any. */
#ifndef RDRSIM_SCENARIO_H
#define RDRSIM_SCENARIO_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dist.h"
#include "engine.h"
#include "units.h"

typedef enum {
    PT_INT,    /* plain integer */
    PT_REAL,   /* plain number */
    PT_TIME,   /* int64 ns */
    PT_SIZE,   /* int64 bytes */
    PT_RATE,   /* int64 bit/s */
    PT_PROB,   /* double in [0, 1] */
    PT_DIST,   /* a distribution; `qty` gives the unit of its values */
    PT_STRING,
    PT_LIST,   /* comma-separated words */
    PT_BOOL,
} ParamType;

typedef struct {
    const char *key;
    ParamType type;
    QtyKind qty;        /* PT_DIST only: unit of the values */
    const char *dflt;   /* default, written as in a scenario; NULL: required */
    const char *help;
    double min, max;    /* numeric bounds in base units (both 0: unbounded) */
} ParamSpec;

typedef struct {
    const char *kind;         /* word that opens the declaration */
    int n_names;              /* names after the kind: 1, or 2 for a link */
    bool is_node;             /* declares a network node */
    bool unique;              /* at most one per scenario (`scenario`) */
    const ParamSpec *params;  /* terminated by an entry with key NULL */
    const char *help;
} DeclSpec;

typedef struct {
    const char *subject;      /* a declaration kind, or "node" for any node */
    const char *verb;         /* NULL: change the subject's parameters */
    int n_args;               /* positional words after the verb */
    const ParamSpec *params;  /* NULL for a parameter change */
    const char *help;
} ActionSpec;

typedef struct {
    const DeclSpec *decls;     /* terminated by kind NULL */
    const ActionSpec *actions; /* terminated by subject NULL */
} Schema;

typedef struct {
    bool given;      /* written in the file or by --set, not the default */
    int line, col;   /* where it was written (0 for defaults and --set) */
    char *text;      /* as written, for the trace's params table */
    int64_t i;       /* PT_INT, PT_TIME, PT_SIZE, PT_RATE, PT_BOOL */
    double r;        /* PT_REAL, PT_PROB */
    char *s;         /* PT_STRING */
    char **list;     /* PT_LIST, NULL-terminated */
    Dist dist;       /* PT_DIST; or, when drawn, what a group member draws its value from */
    bool drawn;      /* a group member's value, drawn by scenario_draw_members */
} ParamValue;

typedef struct {
    const DeclSpec *spec;
    char *names[2];
    char *id;              /* name, or "a-b" for a link */
    int line, col;
    ParamValue *values;    /* one per spec->params entry */
} Decl;

typedef struct {
    SimTime at;
    const ActionSpec *spec;
    Decl *target;          /* the declaration acted on */
    char **args;           /* n_args positional words */
    int *arg_cols;
    int line, col;
    ParamValue *values;    /* per spec->params, or per target's params for a change */
    bool *changed;         /* parameter change: which of target's params are set */
    char *after;           /* NULL; or the event it waits for ("endpoint a1 connected",
                            * "c1 open h1 done"), `at` then being the delay after it */
} Action;

typedef enum { EXPECT_EQ, EXPECT_NE, EXPECT_LT, EXPECT_LE, EXPECT_GT, EXPECT_GE } ExpectOp;

typedef struct {
    char *sql;
    ExpectOp op;
    char *value;          /* as written; NULL for `null` */
    bool numeric;         /* value is a number or quantity */
    double number;        /* its value in base units */
    int line, col;        /* of the `expect` keyword */
    int sql_col;
} Expect;

/* `metric NAME "SQL"`: a value computed from the run's own trace at its
 * end and stored as a metric of the run. */
typedef struct {
    char *name;
    char *sql;
    int line, col;        /* of the `metric` keyword */
    int sql_col;
} UserMetric;

typedef struct {
    char *file;
    int line, col;
    char *msg;
} ScenarioError;

typedef struct {
    char *path;
    char *text;
    char *name;
    const Schema *schema;
    GPtrArray *decls;    /* Decl*, in file order; decls[0] is `scenario` */
    GPtrArray *actions;  /* Action*, sorted by time then file order */
    GPtrArray *expects;  /* Expect* */
    GPtrArray *metrics;  /* UserMetric* */
    GPtrArray *errors;   /* ScenarioError* */
    GPtrArray *overrides; /* char* "name=value", as given */
    GHashTable *index;   /* "KIND\nID" and "\nNODE" -> Decl*: lookups stay O(1) on huge files */
    GHashTable *groups;  /* group name -> GPtrArray of member names (client c[1..10]) */
} Scenario;

/* Parse a scenario from text.  Always returns a Scenario; check
 * scenario->errors->len before using it. */
Scenario *scenario_parse(const char *path, const char *text, const Schema *schema);
/* Read and parse a file; a file that cannot be read becomes an error. */
Scenario *scenario_load(const char *path, const Schema *schema);
void scenario_free(Scenario *sc);

/* Apply `--set NAME=VALUE` (NAME is KIND.ID.KEY, or scenario.KEY).  Returns
 * false with *err set when the name is unknown or the value malformed. */
bool scenario_override(Scenario *sc, const char *assignment, char **err);

/* Draw the values that group members take from distributions, each from
 * its own stream (run seed, "KIND.ID.KEY"), within the key's bounds.
 * Called once the seed is final, before the models read the values. */
void scenario_draw_members(Scenario *sc, uint64_t seed);

/* Record an error at a place of the scenario (line 0: the file as a whole). */
void scenario_error(Scenario *sc, int line, int col, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
/* Print every error as FILE:LINE:COL: message. */
void scenario_print_errors(const Scenario *sc, FILE *out);

Decl *scenario_find_decl(const Scenario *sc, const char *kind, const char *id);
Decl *scenario_find_node(const Scenario *sc, const char *name);
const ParamValue *decl_param(const Decl *d, const char *key);
int decl_param_index(const DeclSpec *spec, const char *key);
/* A value of an action with its own keys (not a parameter change). */
const ParamValue *action_param(const Action *a, const char *key);

/* Every declared value, as (name, text) pairs named KIND.ID.KEY, for the
 * trace's params table.  Caller frees with g_ptr_array_unref. */
GPtrArray *scenario_params(const Scenario *sc);

/* The scenario's seed and stop time (from its `scenario` declaration). */
uint64_t scenario_seed(const Scenario *sc);
SimTime scenario_stop(const Scenario *sc);
/* How long one `expect` or `metric` query may run (query_budget). */
SimTime scenario_query_budget(const Scenario *sc);

const char *expect_op_name(ExpectOp op);

#endif
