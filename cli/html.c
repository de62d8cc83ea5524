#include "html.h"

#include <glib/gstdio.h>
#include <string.h>

struct HtmlPage {
    FILE *out;
    char *scratch; /* where gnuplot writes each SVG before it is inlined */
    int figures;   /* inlined */
    int attempts;  /* figures asked for, for unique ids */
};

void html_escape(GString *s, const char *text)
{
    for (const char *c = text; *c; c++) {
        switch (*c) {
        case '&': g_string_append(s, "&amp;"); break;
        case '<': g_string_append(s, "&lt;"); break;
        case '>': g_string_append(s, "&gt;"); break;
        case '"': g_string_append(s, "&quot;"); break;
        default: g_string_append_c(s, *c);
        }
    }
}

static void put_escaped(HtmlPage *h, const char *text)
{
    GString *s = g_string_new("");
    html_escape(s, text);
    fputs(s->str, h->out);
    g_string_free(s, TRUE);
}

static const char style[] =
    "body{font-family:sans-serif;margin:2em auto;max-width:1180px;padding:0 1em;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1.05em}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}"
    "caption{text-align:left;font-weight:bold;padding:0.3em 0}"
    "th,td{border:1px solid #ccc;padding:0.2em 0.6em}th{background:#f0f0f0;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.regression td{background:#fde0e0}tr.improved td{background:#e0f5e0}"
    "figure{margin:1em 0 2em}figure svg{max-width:100%;height:auto;border:1px solid #ddd}"
    "figcaption{font-size:0.9em;color:#444;margin-top:0.3em}"
    "pre{background:#f6f6f6;padding:0.6em;overflow-x:auto}p.none{color:#666;font-style:italic}";

HtmlPage *html_begin(FILE *out, const char *title, char **err)
{
    GError *gerr = NULL;
    char *dir = g_dir_make_tmp("rdrsim-html-XXXXXX", &gerr);
    if (!dir) {
        *err = g_strdup_printf("cannot make a scratch directory: %s", gerr->message);
        g_error_free(gerr);
        return NULL;
    }
    HtmlPage *h = g_new0(HtmlPage, 1);
    h->out = out;
    h->scratch = dir;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          out);
    put_escaped(h, title);
    fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    put_escaped(h, title);
    fputs("</h1>\n", out);
    return h;
}

FILE *html_out(HtmlPage *h) { return h->out; }

void html_heading(HtmlPage *h, int level, const char *text)
{
    fprintf(h->out, "<h%d>", level);
    put_escaped(h, text);
    fprintf(h->out, "</h%d>\n", level);
}

void html_paragraph(HtmlPage *h, const char *text)
{
    fputs("<p>", h->out);
    put_escaped(h, text);
    fputs("</p>\n", h->out);
}

void html_pre(HtmlPage *h, const char *text)
{
    fputs("<pre>", h->out);
    put_escaped(h, text);
    fputs("</pre>\n", h->out);
}

/* gnuplot's SVG as an element of the page: no XML prolog, the caption as
 * its title, every id prefixed with the figure's number (each gnuplot SVG
 * defines the same ids, and a multiplot repeats its own). */
static char *inline_svg(const char *svg, int fig, const char *caption)
{
    const char *start = strstr(svg, "<svg");
    if (!start)
        return NULL;
    GString *s = g_string_new("");
    int plot_ids = 0;
    for (const char *c = start; *c;) {
        if (g_str_has_prefix(c, "<title>Gnuplot</title>")) {
            g_string_append(s, "<title>");
            html_escape(s, caption);
            g_string_append(s, "</title>");
            c += strlen("<title>Gnuplot</title>");
        } else if (g_str_has_prefix(c, "id=\"gnuplot_plot_")) {
            g_string_append_printf(s, "id=\"f%d_plot_%d", fig, ++plot_ids);
            c += strlen("id=\"gnuplot_plot_");
            while (*c && *c != '"')
                c++; /* the rest of gnuplot's id */
        } else if (g_str_has_prefix(c, "id=\"gnuplot_")) {
            g_string_append_printf(s, "id=\"f%d_", fig);
            c += strlen("id=\"gnuplot_");
        } else if (g_str_has_prefix(c, "id='gp")) {
            g_string_append_printf(s, "id='f%d_gp", fig);
            c += strlen("id='gp");
        } else if (g_str_has_prefix(c, "href='#gp")) {
            g_string_append_printf(s, "href='#f%d_gp", fig);
            c += strlen("href='#gp");
        } else if (g_str_has_prefix(c, "url(#")) {
            g_string_append_printf(s, "url(#f%d_", fig);
            c += strlen("url(#");
        } else if (g_str_has_prefix(c, "<clipPath id='")) {
            g_string_append_printf(s, "<clipPath id='f%d_", fig);
            c += strlen("<clipPath id='");
        } else {
            g_string_append_c(s, *c++);
        }
    }
    return g_string_free(s, FALSE);
}

/* Inline the SVG at path as figure n, or say why there is none. */
static bool put_figure(HtmlPage *h, int n, const char *what, const char *path, bool drawn, const char *caption,
                       const char *note, const char *err, const char *db);

bool html_figure(HtmlPage *h, sqlite3 *db, const PlotOptions *opt, const char *caption)
{
    int n = ++h->attempts;
    char *path = g_strdup_printf("%s/figure-%d.svg", h->scratch, n);
    PlotOptions o = *opt;
    o.output = path;
    char *note = NULL, *err = NULL;
    int status = plot_draw(db, &o, &note, &err);
    bool drawn = put_figure(h, n, opt->what, path, status == 0, caption, note, err, opt->db);
    g_free(path);
    g_free(note);
    g_free(err);
    return drawn;
}

bool html_script_figure(HtmlPage *h, int width, int height, const char *script, const char *caption)
{
    int n = ++h->attempts;
    char *path = g_strdup_printf("%s/figure-%d.svg", h->scratch, n);
    GString *gp = g_string_new("");
    g_string_append_printf(gp, "set terminal svg size %d,%d fixed background '#ffffff' font 'Sans,11'\nset output '%s'\n"
                               "set termoption noenhanced\n%s",
                           width, height, path, script);
    char *err = NULL;
    bool ok = plot_run_gnuplot(gp->str, path, &err);
    bool drawn = put_figure(h, n, "script", path, ok, caption, NULL, err, NULL);
    g_string_free(gp, TRUE);
    g_free(path);
    g_free(err);
    return drawn;
}

static bool put_figure(HtmlPage *h, int n, const char *what, const char *path, bool drawn, const char *caption,
                       const char *note, const char *err, const char *db)
{
    char *svg = NULL;
    bool ok = drawn && g_file_get_contents(path, &svg, NULL, NULL);
    char *body = ok ? inline_svg(svg, n, caption) : NULL;
    if (body) {
        fprintf(h->out, "<figure id=\"figure-%d\" data-what=\"%s\">\n%s\n<figcaption>", n, what, body);
        put_escaped(h, caption);
        if (note) {
            fputs(" (", h->out);
            put_escaped(h, note);
            fputs(")", h->out);
        }
        fputs("</figcaption>\n</figure>\n", h->out);
        h->figures++;
    } else {
        /* the reason, without the DB's path: the page names it once */
        const char *why = err ? err : "gnuplot wrote no SVG";
        const char *colon = strstr(why, ": ");
        if (err && db && colon && strncmp(why, db, strlen(db)) == 0)
            why = colon + 2;
        fputs("<p class=\"none\">", h->out);
        put_escaped(h, caption);
        fputs(": ", h->out);
        put_escaped(h, why);
        fputs("</p>\n", h->out);
    }
    g_unlink(path);
    g_free(svg);
    bool inlined = body != NULL;
    g_free(body);
    return inlined;
}

int html_figures(const HtmlPage *h) { return h->figures; }

void html_end(HtmlPage *h)
{
    fputs("</body>\n</html>\n", h->out);
    g_rmdir(h->scratch);
    g_free(h->scratch);
    g_free(h);
}
