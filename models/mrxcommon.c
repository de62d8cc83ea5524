#include "mrxcommon.h"

#include <string.h>

static void complete_later(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    rx_complete(ctx, (NTSTATUS)arg);
}

void mrx_complete_soon(RxContext *rx, NTSTATUS st)
{
    sim_after(rdbss_sim(rdbss_of_context(rx)), 0, complete_later, rx, (uint64_t)st);
}

NTSTATUS mrx_dev_fcb_control(RxContext *rx)
{
    if (rx->information == 1) {
        rx->information = 0;
        mrx_complete_soon(rx, STATUS_PENDING);
        return STATUS_PENDING;
    }
    return STATUS_SUCCESS;
}

NTSTATUS mrx_extract_unc_net_root_name(RxContext *rx)
{
    const char *srv = rx->srv_call->name, *p = rx->file_path;
    size_t n = strlen(srv);
    if (!p || g_ascii_strncasecmp(p, srv, n) != 0 || p[n] != '\\' || !p[n + 1])
        return STATUS_BAD_NETWORK_PATH;
    const char *share = p + n + 1, *end = strchr(share, '\\');
    rx->net_root_name = g_strndup(p, (gsize)((end ? end : share + strlen(share)) - p));
    return STATUS_SUCCESS;
}
