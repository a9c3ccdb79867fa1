/*
 * fieldsync — health summaries between a child and its parent (the
 * daemon's side of fieldsync/health.h).
 *
 * Every [sync] health_ms, and as soon as the session with its parent
 * starts, a site records its own summary and sends its parent a HEALTH
 * message: its own summary first, then every site it has heard of below
 * it, with ages and clock offsets converted to the parent's point of view.
 * A parent records what a child reports, filling in what only it knows.
 */
#ifndef FSY_HEALTH_H
#define FSY_HEALTH_H

#include "peer.h"

/*
 * Records this site's own summary and, if parent is not NULL and its
 * session is live, sends it the report. Errors: FSY_ENOMEM, FSY_EIO.
 */
int fsy_health_tick(fsy_peer_t *parent, const fsy_sync_env_t *env);

/* A HEALTH message from child p: recorded in the sites table. A report
 * that does not start with p's own summary is refused as a whole; sites a
 * child may not speak for (itself twice, us, sites outside its
 * sites_below) are left out. */
int fsy_health_receive(fsy_peer_t *p, const fsy_sync_env_t *env,
                       const fsy_msg_t *m);

#endif
