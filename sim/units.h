/* units: quantities with units, as written in scenarios and --set.
 *
 *   time   ns us ms s min h          -> int64 ns   (bare 0 allowed)
 *   size   B KiB MiB GiB KB MB GB    -> int64 bytes (bare integer = bytes)
 *   rate   bit/s Kbit Mbit Gbit (each also with /s), bps -> int64 bit/s
 *   prob   N% or a plain number in [0, 1] -> double
 *   int    a plain integer            -> int64
 *   real   a plain number             -> double */
#ifndef RDRSIM_UNITS_H
#define RDRSIM_UNITS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    QTY_INT,
    QTY_REAL,
    QTY_TIME,
    QTY_SIZE,
    QTY_RATE,
    QTY_PROB,
} QtyKind;

/* Parse `text` as a quantity of kind k into *out (in base units).  On
 * failure returns false and sets *err to a newly allocated message saying
 * what was expected. */
bool units_parse(const char *text, QtyKind k, double *out, char **err);

/* The same, for the integer kinds (int, time, size, rate), range-checked. */
bool units_parse_int(const char *text, QtyKind k, int64_t *out, char **err);

/* Parse any quantity whose unit says what it is ("10ms", "4KiB", "1%", "3"),
 * for comparisons in `expect`. */
bool units_parse_any(const char *text, double *out);

const char *units_kind_name(QtyKind k);
/* Format a time in the largest unit that shows it exactly (1500000 -> "1500us"). */
char *units_format_time(int64_t ns);

#endif
