/* ilist: GQueue operations on nodes embedded in the queued objects, inline.
 *
 * The models queue requests, records, contexts and RDBSS structures through
 * a GList node inside each object, so queuing allocates nothing.  GLib's
 * own functions for that are calls through the PLT of 15 to 30
 * instructions each, a few million a simulated second at a thousand
 * clients (about 6% of a part's instructions); these do the same to the
 * same GQueue and GList fields in a handful.  A queue built with them is an
 * ordinary GQueue: GLib may walk or search it. */
#ifndef RDRSIM_ILIST_H
#define RDRSIM_ILIST_H

#include <glib.h>

/* As g_queue_push_tail_link: node must be in no queue. */
static inline void ilist_push_tail(GQueue *q, GList *node)
{
    node->next = NULL;
    node->prev = q->tail;
    if (q->tail)
        q->tail->next = node;
    else
        q->head = node;
    q->tail = node;
    q->length++;
}

/* As g_queue_unlink: node must be in q. */
static inline void ilist_unlink(GQueue *q, GList *node)
{
    if (node->prev)
        node->prev->next = node->next;
    else
        q->head = node->next;
    if (node->next)
        node->next->prev = node->prev;
    else
        q->tail = node->prev;
    node->next = node->prev = NULL;
    q->length--;
}

/* As g_queue_pop_head_link. */
static inline GList *ilist_pop_head(GQueue *q)
{
    GList *node = q->head;
    if (node)
        ilist_unlink(q, node);
    return node;
}

/* As g_queue_peek_head: the first node's data, or NULL. */
static inline void *ilist_peek_head(const GQueue *q) { return q->head ? q->head->data : NULL; }

#endif
