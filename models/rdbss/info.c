/* info.c: query and set information, directory queries, notifications,
 * IOCTLs and FSCTLs, EAs, security, quota and volume: one routine each,
 * as rdbss_info's `what` names it (CALLBACKS.md). */

#include "rdbss_int.h"

static void set_done(RxContext *rx)
{
    Fcb *f = rx->fcb;
    if (rx->status == STATUS_SUCCESS) {
        if (rx->info_class == 1) {
            if (rx->length < f->size) {
                f->truncate_on_close = true; /* shrunk: truncate at the last cleanup */
                ranges_trim(f->cached, rx->length);
                if (rx->rdbss->coh) /* the application cut its own data: not a loss */
                    coh_truncate(rx->rdbss->coh, f->key, rx->length);
            }
            f->size = rx->length;
            f->valid_data_length = MIN(f->valid_data_length, f->size);
            f->modified = true;
        } else if (rx->info_class == 3) {
            f->delete_on_close = true;
        } else if (rx->info_class == 2) {
            for (guint i = 0; i < f->srv_opens->len; i++)
                ((SrvOpen *)g_ptr_array_index(f->srv_opens, i))->flags |= SRVOPEN_FLAG_COLLAPSING_DISABLED;
        }
    }
    rx_irp_done_k(rx);
}

/* Rename and delete-disposition first scavenge the delayed-close FOBXs of
 * the NET_ROOT, asking MRxAreFilesAliased for those of other FCBs
 * (d.3, RxScavengeFobxsForNetRoot with a purging FCB). */
static void before_set(void *ctx);

static void aliased_answered(RxContext *rx)
{
    Fobx *x = (Fobx *)(uintptr_t)rx->k_arg;
    RxContext *orig = rx->k_ctx;
    rx_side_free(rx);
    rx_end_delayed_close(x, before_set, orig);
}

static void before_set(void *ctx)
{
    RxContext *rx = ctx;
    Rdbss *r = rx->rdbss;
    for (GList *l = r->fobxs.head; l; l = l->next) {
        Fobx *x = l->data;
        if (x->scavenge_pending && x->fcb->net_root == rx->fcb->net_root) {
            g_ptr_array_remove(rx_rdr_of_fcb(x->fcb)->scavenge, x);
            x->scavenge_pending = false;
            if (x->fcb != rx->fcb) {
                RxContext *a = rx_side_new(rx->rdr);
                a->fcb = rx->fcb;
                a->k_ctx = rx;
                a->k_arg = (uint64_t)(uintptr_t)x;
                rx_call(a, ID_MRxAreFilesAliased, aliased_answered);
            } else {
                rx_end_delayed_close(x, before_set, rx);
            }
            return;
        }
    }
    rx_call(rx, ID_MRxSetFileInfo, set_done);
}

void rdbss_info(Rdbss *r, Fobx *x, const char *what, uint64_t length, const char *new_name, RxIrpDone done,
                void *ctx)
{
    Op *o = rx_io_op(r, x, done, ctx);
    NTSTATUS st = rx_usable(x);
    if (st != STATUS_SUCCESS) {
        rx_irp_done(o, st, 0);
        return;
    }
    RxContext *rx = &o->rx;
    rx->length = length;
    rx->new_name = g_strdup(new_name);
    static const struct {
        const char *what;
        MrxId id;
        int cls;
    } map[] = {
        { "query_file", ID_MRxQueryFileInfo, 0 },   { "query_dir", ID_MRxQueryDirectory, 0 },
        { "query_ea", ID_MRxQueryEaInfo, 0 },       { "set_ea", ID_MRxSetEaInfo, 0 },
        { "query_sd", ID_MRxQuerySdInfo, 0 },       { "set_sd", ID_MRxSetSdInfo, 0 },
        { "query_quota", ID_MRxQueryQuotaInfo, 0 }, { "set_quota", ID_MRxSetQuotaInfo, 0 },
        { "query_volume", ID_MRxQueryVolumeInfo, 0 }, { "set_volume", ID_MRxSetVolumeInfo, 0 },
        { "notify", MRX_LOWIO(LOWIO_OP_NOTIFY_CHANGE_DIRECTORY), 0 },
        { "ioctl", MRX_LOWIO(LOWIO_OP_IOCTL), 0 },  { "fsctl", MRX_LOWIO(LOWIO_OP_FSCTL), 0 },
        { "set_eof", ID_MRxSetFileInfo, 1 },        { "rename", ID_MRxSetFileInfo, 2 },
        { "delete", ID_MRxSetFileInfo, 3 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        if (strcmp(map[i].what, what) != 0)
            continue;
        rx->info_class = (uint32_t)map[i].cls;
        if (map[i].id >= ID_LOWIO_FIRST)
            rx->op = (LowIoOp)(map[i].id - ID_LOWIO_FIRST);
        if (map[i].id == ID_MRxSetFileInfo && map[i].cls >= 2)
            before_set(rx);
        else
            rx_call(rx, map[i].id, map[i].id == ID_MRxSetFileInfo ? set_done : rx_irp_done_k);
        return;
    }
    rx_irp_done(o, STATUS_INVALID_PARAMETER, 0);
}

