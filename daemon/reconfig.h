/*
 * fieldsyncd — the configuration while the daemon runs: what a file must
 * say for the daemon to run on it, and the reload SIGHUP asks for.
 *
 * A reload applies what can change without dropping anyone: [child NAME]
 * sections (added, changed or removed: only those children's sessions
 * end, and they come back under the new section), [status], [alert],
 * [log], [sync] batch_changes, batch_bytes, window, compression_level and
 * health_ms, [limits] max_value_bytes and [site] max_clock_skew. Any other
 * key that changed keeps its old value until a restart, and the log names
 * it. A file that would not start the daemon is refused whole: the old
 * configuration stays, and the log says why.
 */
#ifndef FSY_RECONFIG_H
#define FSY_RECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/config.h"

struct fsy_daemon;

/* 0 when cfg (loaded from path) is one the daemon can run on, else 1
 * with why[len] saying what to change. Binds and opens nothing. */
int fsy_reconfig_check(const fsy_config_t *cfg, const char *path, char *why,
                       size_t len);

/* Re-reads d->config_path and applies it as above; logs what it did
 * ("reload") or why not ("reload-refused"). Never stops the daemon. The
 * children whose session must end are left with end_why set and no
 * section (acl NULL): the caller ends them before anything else runs. */
void fsy_reconfig_reload(struct fsy_daemon *d);

/* With CURVE, a child's frames carry the key it connected with
 * ("site#keytag", the ZAP user id): whether that key is still the one its
 * [child] section admits. Writes the site part into site[]. */
bool fsy_reconfig_key_current(const fsy_config_t *cfg, const char *user,
                              char *site, size_t len);

/* The ZAP user id of an admitted key: "SITE#" and its first 8 bytes in
 * hex, so a key removed or changed by a reload is seen on every frame. */
void fsy_reconfig_user_id(const char *site, const uint8_t key[32], char *out,
                          size_t len);

#endif
