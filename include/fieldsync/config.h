/*
 * fieldsync — the site configuration file (INI).
 *
 *   [site]
 *   id = gao
 *   db = /var/lib/fieldsync/gao.db
 *   author = JMAC Gao desk       ; who this site's writes are by
 *   max_clock_skew = 3600        ; seconds
 *   [limits]
 *   max_value_bytes = 1048576
 *   max_attachment_bytes = 268435456
 *   [listen]                     ; fieldsyncd: accept children
 *   endpoint = tcp://127.0.0.1:7402
 *   [parent]                     ; fieldsyncd: sync upwards
 *   endpoint = tcp://127.0.0.1:7401
 *   [sync]                       ; fieldsyncd tuning, all optional
 *   batch_changes = 1000  batch_bytes = 1048576  window = 4
 *   heartbeat_ms = 1000   timeout_ms = 5000
 *   reconnect_ms = 200    reconnect_max_ms = 30000
 *   compression_level = 0        ; 1-19 forces a zstd level; 0 follows the link
 *   [site] secret_key_file = gao.key   insecure = false
 *   [site] verify_at_start = true   ; refuse to run on a damaged replica
 *   [parent] server_public_key = <Z85>
 *   [child gao]                  ; at a parent: one per admitted child
 *   public_key = <Z85>   read_scopes = MLI, global   write_scopes = MLI
 *   [sync] max_message_bytes = 67108864
 *   [sync] health_ms = 10000     ; how often a summary goes to the parent
 *   [http]                       ; fieldsyncd: metrics, status page
 *   listen = 127.0.0.1:7480      ; or off
 *   min_free_bytes = 16777216    ; /healthz fails below this free space
 *   token_file = /etc/fieldsync/api.token ; documents only with this
 *                                ; bearer token (else: loopback only)
 *   read_scopes = MLI, global    ; the scopes /api and /docs serve
 *   [status]                     ; when a site turns amber or red
 *   amber_after_s = 60   red_after_s = 900   amber_behind = 1000
 *   red_behind = 100000  amber_clock_offset_s = 60
 *   [merge]                      ; text merge (docs/REPLICATION.md)
 *   whole_value_fields = status, owner ; never merged line by line;
 *                                ; the same list at every site
 *   [log]
 *   level = info                 ; debug, info, warn, error
 *   target = stderr              ; or syslog
 *
 * Unknown sections and keys are errors, reported with file, line and key,
 * so a typo never silently falls back to a default.
 */
#ifndef FIELDSYNC_CONFIG_H
#define FIELDSYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most children one parent admits. */
#define FSY_MAX_CHILDREN 256

/* [child NAME]: one admitted child, at a parent. */
/* What a parent sends a child of attachments' bytes ([child] attachments):
 * every one, none (references only), or those asked for (fieldsync fetch
 * at the child). The values travel in HELLO: do not renumber. */
typedef enum fsy_attach_policy {
    FSY_ATTACH_ALL = 0,
    FSY_ATTACH_NONE = 1,
    FSY_ATTACH_ON_DEMAND = 2
} fsy_attach_policy_t;

typedef struct fsy_child_conf {
    char site[FSY_SITE_MAX + 1];
    char public_key[41];             /* Z85 (Ed25519), "" if not given */
    uint8_t curve_pk[32];            /* derived from public_key */
    char read_scopes[256];           /* "MLI, global" as written; "" = all */
    char write_scopes[256];          /* "" = all */
    char sites_below[256];           /* origins it may relay besides its own */
    fsy_attach_policy_t attachments; /* which attachments' bytes it gets */
} fsy_child_conf_t;

/* When a site's row on a status display turns amber or red. */
typedef struct fsy_thresholds {
    unsigned amber_after_s, red_after_s; /* since last contact */
    size_t amber_behind, red_behind;     /* changes apart, either way */
    unsigned amber_clock_offset_s;       /* its clock against ours */
    /* a site heard of by courier only: since its last bundle */
    unsigned courier_amber_after_s, courier_red_after_s;
} fsy_thresholds_t;

/* Log levels, most verbose first, and their names indexed by level. */
enum { FSY_LOG_DEBUG = 0, FSY_LOG_INFO, FSY_LOG_WARN, FSY_LOG_ERROR };
extern const char *const fsy_log_level_names[4];

typedef struct fsy_config {
    char site_id[FSY_SITE_MAX + 1];  /* "" if not set */
    char db[4096];                   /* "" if not set */
    char author[FSY_AUTHOR_MAX + 1]; /* [site] author of writes, "" unset */
    uint64_t max_clock_skew_ms;
    size_t max_value_bytes;
    uint64_t max_attachment_bytes; /* largest file `put --attach` stores */
    char listen[256];     /* ZeroMQ endpoint to bind for children, "" none */
    char parent[256];     /* ZeroMQ endpoint of the parent, "" none */
    size_t batch_changes; /* a batch closes at a transaction's end after */
    size_t batch_bytes;   /* ... this many changes or value bytes */
    unsigned window;      /* batches in flight, unacknowledged */
    unsigned compression_level; /* [sync] zstd level 1-19; 0: by the link */
    unsigned heartbeat_ms;
    unsigned timeout_ms;         /* silence after which a session restarts */
    unsigned reconnect_ms;       /* first wait before reconnecting ... */
    unsigned reconnect_max_ms;   /* ... doubling up to this */
    size_t max_message_bytes;    /* frames larger are dropped at the socket */
    char secret_key_file[4096];  /* [site]: this site's key; "" none */
    char write_scopes[256];      /* [site]: what this site may write; "" all */
    int insecure;                /* [site] insecure = true: no CURVE */
    int verify_at_start;         /* [site]: fieldsyncd checks the replica */
    char parent_public_key[41];  /* [parent] server_public_key (Z85) */
    unsigned health_ms;          /* [sync]: summaries to the parent */
    char http_listen[64];        /* [http] "127.0.0.1:7480", "" = off */
    char alert_command[4096];    /* [alert] command: a program, "" none */
    uint8_t http_ip[4];          /* ... parsed: IPv4, network order */
    uint16_t http_port;          /* ... and port */
    size_t min_free_bytes;       /* [http]: /healthz fails below */
    char http_token_file[4096];  /* [http]: documents need its token */
    char http_read_scopes[256];  /* [http]: scopes served, "" = all */
    fsy_thresholds_t thresholds; /* [status] */
    /* [merge] whole_value_fields, canonical ("owner,status"), and whether
     * the file has the key at all (the tool then applies it too) */
    char whole_value_fields[513]; /* FSY_WHOLE_FIELDS_MAX + 1 */
    bool whole_value_fields_set;
    int log_level;              /* [log] level: FSY_LOG_* */
    bool log_syslog;            /* [log] target = syslog */
    fsy_child_conf_t *children; /* owned: fsy_config_free() */
    size_t n_children;
} fsy_config_t;

/* Fills cfg with the defaults. */
void fsy_config_defaults(fsy_config_t *cfg);

/*
 * Loads `path` over the defaults. FSY_ENOTFOUND if it cannot be opened,
 * FSY_EINVAL with "FILE:LINE: ..." as detail for a bad line, key or value.
 */
int fsy_config_load(fsy_config_t *cfg, const char *path);

/* A deep copy of src into dst (uninitialised): FSY_OK or FSY_ENOMEM
 * (dst untouched). The caller frees dst with fsy_config_free(). */
int fsy_config_copy(fsy_config_t *dst, const fsy_config_t *src);

/* Where the configuration is when no -c (and, for the tool, no --db)
 * says: $FIELDSYNC_CONFIG (*from_env true), else FSY_DEFAULT_CONFIG
 * (/etc/fieldsync/fieldsync.conf unless the build says otherwise). A
 * path that may not exist: the caller decides. Never NULL. */
#ifndef FSY_DEFAULT_CONFIG
#define FSY_DEFAULT_CONFIG "/etc/fieldsync/fieldsync.conf"
#endif
const char *fsy_config_default_path(bool *from_env);

/* Frees what the configuration owns (the children table). */
void fsy_config_free(fsy_config_t *cfg);

/* The [child NAME] section for site, or NULL. */
const fsy_child_conf_t *fsy_config_child(const fsy_config_t *cfg,
                                         const char *site);

#ifdef __cplusplus
}
#endif
#endif
