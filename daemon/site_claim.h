/*
 * fieldsyncd — one site id, one running daemon.
 *
 * A replica copied to a second machine that then runs as the same site
 * would write the same seqs as the first with other content. Each daemon
 * run connects with a routing id of its own (transport.h), so the parent
 * sees two runs of one site: while the first run's session is live and
 * its connection open, a HELLO from another run is refused, naming both
 * machines, and told when to try again; the live session's row says so
 * too until the other run has been quiet for a while. A session whose
 * connection is gone (the daemon restarted, the machine was replaced)
 * gives way at once. Nothing is lost: the refused copy keeps its writes,
 * and once it is the only one it recovers as a restored replica does
 * (store_recover.c).
 */
#ifndef FSY_SITE_CLAIM_H
#define FSY_SITE_CLAIM_H

#include <stdbool.h>

#include "daemon.h"

/* How long a refused run waits before it says hello again. */
#define FSY_CLAIM_RETRY_MS 15000

/*
 * At a HELLO from routing id rid, before it has a slot: true to go on,
 * false when it was refused (REFUSE sent, logged, the live session's row
 * told). *gone: the slot of another run of the site whose connection is
 * gone, for the caller to end before it goes on; else NULL.
 */
bool fsy_claim_admit(fsy_daemon_t *d, const uint8_t *rid, size_t rid_len,
                     const fsy_msg_t *hello, const fsy_frame_from_t *from,
                     const fsy_sync_env_t *env, fsy_child_slot_t **gone);

/* Records who is behind slot c, from its HELLO. */
void fsy_claim_introduce(fsy_child_slot_t *c, const fsy_msg_t *hello,
                         const fsy_frame_from_t *from,
                         const fsy_sync_env_t *env);

/* Every turn for a used slot: a refused run quiet for three of its retry
 * periods is gone, and so is the note on this session's row. */
void fsy_claim_tick(fsy_child_slot_t *c, const fsy_sync_env_t *env);

#endif
