/* scenario_lex.c: a scenario line into tokens (GScanner, one line at a
 * time, so a statement never runs into the next line and every token
 * knows its column), and the errors that name file, line, column and what
 * was expected. */

#include "scenario_int.h"

void scn_tok_clear(gpointer p)
{
    g_free(((Tok *)p)->text);
}

GScanner *scn_new_scanner(void)
{
    GScanner *s = g_scanner_new(NULL);
    GScannerConfig *c = s->config;
    c->cset_skip_characters = " \t\r\n";
    /* Words take digits and punctuation too: "10ms", "+2ms", "X:",
     * "\\srv\public", "c[1..10]" are each one word; the units parser
     * reads quantities out of words itself. */
    c->cset_identifier_first = G_CSET_a_2_z G_CSET_A_2_Z "0123456789_.\\/:+-*[]%@~$&^|{}?;";
    c->cset_identifier_nth = c->cset_identifier_first;
    c->scan_identifier_1char = TRUE;
    c->scan_identifier_NULL = FALSE;
    c->scan_symbols = FALSE;
    c->scan_binary = c->scan_octal = c->scan_float = c->scan_hex = FALSE;
    c->scan_string_sq = c->scan_string_dq = TRUE;
    c->cpair_comment_single = "#\n";
    c->skip_comment_single = TRUE;
    c->scan_comment_multi = FALSE;
    c->case_sensitive = TRUE;
    c->char_2_token = TRUE;
    s->msg_handler = NULL;
    return s;
}

static const char *scanner_error_text(GErrorType e)
{
    switch (e) {
    case G_ERR_UNEXP_EOF_IN_STRING: return "unterminated string: expected a closing quote";
    case G_ERR_NON_DIGIT_IN_CONST: return "malformed number";
    default: return "malformed token";
    }
}

/* GScanner frees a token's string only when it reads the next token; read on
 * to the end of the text so that the next g_scanner_input_text leaks nothing. */
static bool drain(GScanner *scanner, bool ok)
{
    GTokenType t;
    do
        t = g_scanner_get_next_token(scanner);
    while (t != G_TOKEN_EOF && t != G_TOKEN_ERROR);
    return ok;
}

/* Split one line into tokens.  Returns false (with the error recorded) when
 * the line holds something that is no token. */
bool scn_tokenize(Scenario *sc, GScanner *scanner, int lineno, const char *src, GArray *toks)
{
    size_t len = strlen(src);
    g_scanner_input_text(scanner, src, (guint)len);
    size_t pos = 0;
    for (;;) {
        while (pos < len && (src[pos] == ' ' || src[pos] == '\t' || src[pos] == '\r'))
            pos++;
        if (pos >= len || src[pos] == '#')
            return drain(scanner, true);
        int col = (int)pos + 1;
        GTokenType t = g_scanner_get_next_token(scanner);
        int end = (int)g_scanner_cur_position(scanner);
        Tok tok = { .col = col, .end = end };
        switch ((int)t) {
        case G_TOKEN_IDENTIFIER:
            tok.kind = TK_WORD;
            tok.text = g_strdup(scanner->value.v_identifier);
            break;
        case G_TOKEN_STRING:
            tok.kind = TK_STRING;
            tok.text = g_strdup(scanner->value.v_string);
            break;
        case '=': case '!': case '<': case '>': case '(': case ')': case ',':
            tok.kind = TK_SYM;
            tok.text = g_strndup((const char *)&(char){ (char)t }, 1);
            break;
        case G_TOKEN_ERROR:
            scenario_error(sc, lineno, col, "%s", scanner_error_text(scanner->value.v_error));
            return drain(scanner, false);
        case G_TOKEN_EOF:
            return true;
        default:
            if ((int)t > 0 && (int)t < 256 && g_ascii_isprint((char)t))
                scenario_error(sc, lineno, col, "unexpected character '%c'", (char)t);
            else
                scenario_error(sc, lineno, col, "unexpected byte 0x%02x (names with such characters must be quoted)",
                               (unsigned)t & 0xff);
            return drain(scanner, false);
        }
        /* Two-character operators arrive as two adjacent symbols. */
        if (tok.kind == TK_SYM && tok.text[0] == '=' && toks->len) {
            Tok *prev = &g_array_index(toks, Tok, toks->len - 1);
            if (prev->kind == TK_SYM && prev->end + 1 == col && strchr("!<>", prev->text[0]) && !prev->text[1]) {
                char *op = g_strdup_printf("%c=", prev->text[0]);
                g_free(prev->text);
                g_free(tok.text);
                prev->text = op;
                prev->end = end;
                pos = (size_t)end;
                continue;
            }
        }
        g_array_append_val(toks, tok);
        pos = (size_t)end;
    }
}

Tok *scn_peek(Line *l)
{
    return l->pos < l->toks->len ? &g_array_index(l->toks, Tok, l->pos) : NULL;
}

bool scn_peek_sym(Line *l, const char *sym)
{
    Tok *t = scn_peek(l);
    return t && t->kind == TK_SYM && strcmp(t->text, sym) == 0;
}

/* Column just past the line's last token, for "expected ..." at the end. */
static int end_col(Line *l)
{
    return l->toks->len ? g_array_index(l->toks, Tok, l->toks->len - 1).end + 1 : 1;
}

void scn_line_error(Line *l, Tok *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    scenario_error(l->sc, l->line, at ? at->col : end_col(l), "%s", msg);
    g_free(msg);
}

const char *scn_describe(Tok *t)
{
    if (!t)
        return "end of line";
    return t->kind == TK_STRING ? "a string" : t->text;
}

