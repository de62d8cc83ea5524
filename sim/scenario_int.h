/* scenario_int.h: what the parts of the scenario language share and no
 * one else sees (scenario.h is the contract): tokens, a line being
 * parsed, attribute items, and the calls between the tokenizer
 * (scenario_lex.c), the values (scenario_value.c) and the parser
 * (scenario.c). */
#ifndef RDRSIM_SCENARIO_INT_H
#define RDRSIM_SCENARIO_INT_H

#include "scenario.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "rng.h"

#define MAX_FILE_BYTES (64u << 20)

typedef enum { TK_WORD, TK_STRING, TK_SYM } TokKind;

typedef struct {
    TokKind kind;
    char *text;  /* word or string contents; the operator for TK_SYM */
    int col;     /* first column, 1-based */
    int end;     /* last column */
} Tok;

typedef struct {
    Scenario *sc;
    int line;
    const char *src; /* the line's text */
    GArray *toks;    /* Tok */
    guint pos;       /* next token */
    bool member;     /* parsing the values of one member of a group declaration */
} Line;

typedef struct Item {
    bool call;
    bool quoted;
    char *text;
    int col, end;
    GPtrArray *args; /* Item*, for a call */
} Item;

/* scenario.c */
bool scn_read_bounded(const char *path, size_t max, char **text, size_t *len, char **err);
char **scn_split_lines(const char *text);
size_t scn_n_params(const ParamSpec *p);

/* scenario_lex.c */
void scn_tok_clear(gpointer p);
GScanner *scn_new_scanner(void);
bool scn_tokenize(Scenario *sc, GScanner *scanner, int lineno, const char *src, GArray *toks);
Tok *scn_peek(Line *l);
bool scn_peek_sym(Line *l, const char *sym);
void scn_line_error(Line *l, Tok *at, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
const char *scn_describe(Tok *t);

/* scenario_value.c */
GPtrArray *scn_parse_items(Line *l);
void scn_value_clear(ParamValue *v);
bool scn_type_is_int(ParamType t);
QtyKind scn_qty_of(const ParamSpec *p);
char *scn_convert(const ParamSpec *p, GPtrArray *items, const char *base_dir, ParamValue *out, int *err_col);

#endif
