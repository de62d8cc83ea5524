#include "ntstatus.h"

#include <glib.h>

static const struct {
    NTSTATUS code;
    const char *name;
} table[] = {
#define NTSTATUS_ROW(name, value) { (NTSTATUS)value, #name },
    NTSTATUS_LIST(NTSTATUS_ROW)
#undef NTSTATUS_ROW
};

const char *ntstatus_name(NTSTATUS s)
{
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
        if (table[i].code == s)
            return table[i].name;
    return NULL;
}

int ntstatus_at(size_t i, NTSTATUS *code, const char **name)
{
    if (i >= G_N_ELEMENTS(table))
        return 0;
    *code = table[i].code;
    *name = table[i].name;
    return 1;
}
