#include "units.h"

#include <glib.h>
#include <math.h>
#include <string.h>

typedef struct {
    const char *suffix;
    double factor;
} Unit;

static const Unit time_units[] = {
    { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "min", 60e9 }, { "h", 3600e9 }, { NULL, 0 },
};
static const Unit size_units[] = {
    { "B", 1 }, { "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
    { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { NULL, 0 },
};
static const Unit rate_units[] = {
    { "bit/s", 1 }, { "bps", 1 }, { "Kbit", 1e3 }, { "Kbit/s", 1e3 }, { "Mbit", 1e6 },
    { "Mbit/s", 1e6 }, { "Gbit", 1e9 }, { "Gbit/s", 1e9 }, { NULL, 0 },
};
static const Unit prob_units[] = { { "%", 0.01 }, { NULL, 0 } };
static const Unit no_units[] = { { NULL, 0 } };

static const Unit *units_of(QtyKind k)
{
    switch (k) {
    case QTY_TIME: return time_units;
    case QTY_SIZE: return size_units;
    case QTY_RATE: return rate_units;
    case QTY_PROB: return prob_units;
    default: return no_units;
    }
}

const char *units_kind_name(QtyKind k)
{
    switch (k) {
    case QTY_INT: return "an integer";
    case QTY_REAL: return "a number";
    case QTY_TIME: return "a time (ns, us, ms, s, min, h)";
    case QTY_SIZE: return "a size (B, KiB, MiB, GiB, KB, MB, GB)";
    case QTY_RATE: return "a rate (bit/s, Kbit, Mbit, Gbit)";
    case QTY_PROB: return "a probability (N% or a number in [0, 1])";
    }
    return "a value";
}

/* Length of the decimal number at the start of s ([+-]digits[.digits][e[+-]digits]),
 * 0 when there is none.  strtod alone would also take "inf", "nan" and hex. */
static size_t number_len(const char *s, bool *is_integer)
{
    size_t i = 0, digits = 0;
    *is_integer = true;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (g_ascii_isdigit(s[i]))
        i++, digits++;
    if (s[i] == '.') {
        *is_integer = false;
        i++;
        while (g_ascii_isdigit(s[i]))
            i++, digits++;
    }
    if (!digits)
        return 0;
    if ((s[i] == 'e' || s[i] == 'E') &&
        (g_ascii_isdigit(s[i + 1]) || ((s[i + 1] == '+' || s[i + 1] == '-') && g_ascii_isdigit(s[i + 2])))) {
        *is_integer = false;
        i += 2;
        while (g_ascii_isdigit(s[i]))
            i++;
    }
    return i;
}

static bool split_number(const char *text, double *num, const char **suffix, bool *is_integer)
{
    size_t n = number_len(text, is_integer);
    if (!n)
        return false;
    char *buf = g_strndup(text, n);
    *num = g_ascii_strtod(buf, NULL);
    g_free(buf);
    *suffix = text + n;
    return isfinite(*num);
}

bool units_parse(const char *text, QtyKind k, double *out, char **err)
{
    double num;
    const char *suffix;
    bool is_integer;
    if (!split_number(text, &num, &suffix, &is_integer))
        goto bad;
    if (k == QTY_INT && !is_integer)
        goto bad;
    double factor = 0;
    if (*suffix == '\0') {
        /* A bare number: fine where there is no unit to give, and for 0. */
        if (k == QTY_TIME || k == QTY_RATE)
            factor = num == 0 ? 1 : 0;
        else
            factor = 1;
    } else {
        for (const Unit *u = units_of(k); u->suffix; u++)
            if (strcmp(u->suffix, suffix) == 0)
                factor = u->factor;
    }
    if (factor == 0)
        goto bad;
    *out = num * factor;
    if (k == QTY_PROB && (*out < 0 || *out > 1)) {
        *err = g_strdup_printf("expected %s, got '%s' (outside [0, 1])", units_kind_name(k), text);
        return false;
    }
    return true;
bad:
    *err = g_strdup_printf("expected %s, got '%s'", units_kind_name(k), text);
    return false;
}

bool units_parse_int(const char *text, QtyKind k, int64_t *out, char **err)
{
    /* A plain integer is read exactly: through a double, integers past
     * 2^53 (seeds among them) would round, and two would become one. */
    const char *digits = text + (*text == '-' || *text == '+');
    if (k == QTY_INT && *digits && strspn(digits, "0123456789") == strlen(digits)) {
        gint64 n;
        if (!g_ascii_string_to_signed(text, 10, G_MININT64, G_MAXINT64, &n, NULL)) {
            *err = g_strdup_printf("'%s' is out of range (at most %lld)", text, (long long)G_MAXINT64);
            return false;
        }
        *out = n;
        return true;
    }
    double v;
    if (!units_parse(text, k, &v, err))
        return false;
    /* 2^63 is the first double past INT64_MAX. */
    if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0)) {
        *err = g_strdup_printf("'%s' is out of range", text);
        return false;
    }
    *out = (int64_t)llround(v);
    return true;
}

bool units_parse_any(const char *text, double *out)
{
    static const QtyKind kinds[] = { QTY_REAL, QTY_TIME, QTY_SIZE, QTY_RATE, QTY_PROB };
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        char *err = NULL;
        if (units_parse(text, kinds[i], out, &err))
            return true;
        g_free(err);
    }
    return false;
}

char *units_format_time(int64_t ns)
{
    /* The largest unit that shows the value exactly. */
    static const Unit exact[] = { { "s", 1e9 }, { "ms", 1e6 }, { "us", 1e3 } };
    for (size_t i = 0; i < G_N_ELEMENTS(exact); i++) {
        int64_t f = (int64_t)exact[i].factor;
        if (ns != 0 && ns % f == 0)
            return g_strdup_printf("%lld%s", (long long)(ns / f), exact[i].suffix);
    }
    return g_strdup_printf("%lldns", (long long)ns);
}
