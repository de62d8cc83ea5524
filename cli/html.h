/* html: one self-contained HTML page of tables and figures.
 *
 * What the page guarantees: it needs nothing but itself.  Styles are
 * inline, figures are gnuplot SVG inlined into the page (ids made unique
 * per figure), there is no script, and a Content-Security-Policy of
 * default-src 'none' (styles and images inline only) tells the browser to
 * fetch nothing even if something slipped in.  A figure that has nothing to
 * draw in this trace leaves a line saying so, not a hole. */
#ifndef RDRSIM_HTML_H
#define RDRSIM_HTML_H

#include <glib.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>

#include "plot.h"

typedef struct HtmlPage HtmlPage;

/* Begin a page on out.  NULL with *err when the figures' scratch directory
 * cannot be made. */
HtmlPage *html_begin(FILE *out, const char *title, char **err);
FILE *html_out(HtmlPage *h);
void html_heading(HtmlPage *h, int level, const char *text);
void html_paragraph(HtmlPage *h, const char *text);
void html_pre(HtmlPage *h, const char *text);
/* Draw opt->what (opt->output is ignored) and inline it with a caption.
 * Returns false, and writes why in the page, when there is nothing to
 * draw; a gnuplot failure is an error the page reports too. */
bool html_figure(HtmlPage *h, sqlite3 *db, const PlotOptions *opt, const char *caption);
/* A figure from a gnuplot script of the caller's (what follows the
 * terminal and output lines), width x height pixels. */
bool html_script_figure(HtmlPage *h, int width, int height, const char *script, const char *caption);
/* The figures inlined so far. */
int html_figures(const HtmlPage *h);
/* Close the page, remove the scratch directory. */
void html_end(HtmlPage *h);

/* Append text with &, <, >, " escaped. */
void html_escape(GString *s, const char *text);

#endif
