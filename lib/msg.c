/*
 * fieldsync — the live sync messages. See msg.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fieldsync/error.h"
#include "msg.h"

void
fsy_msg_clear(fsy_msg_t *m)
{
    if (m == NULL)
        return;
    free(m->vv.v);
    free(m->root.v);
    free(m->tips);
    fsy_change_list_clear(&m->changes);
    fsy_site_health_free(m->sites, m->n_sites);
    free(m->chunk.data);
    free(m->zpayload);
    memset(m, 0, sizeof *m);
}
