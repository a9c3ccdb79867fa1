/*
 * fieldsyncd — the daemon's state, shared by start-up (main.c) and the
 * loop (loop.c). main.c fills it from the configuration and tears it down;
 * while fsy_loop_run() turns, only the loop touches it (the HTTP thread
 * reads `loop_ms` alone, atomically).
 */
#ifndef FSY_DAEMON_H
#define FSY_DAEMON_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fieldsync/config.h"
#include "fieldsync/keys.h"
#include "fieldsync/store.h"
#include "alert.h"
#include "http.h"
#include "peer.h"
#include "transfer.h"
#include "transport.h"
#include "verify.h"

typedef struct fsy_daemon fsy_daemon_t;

/* A child's slot: its routing id and its session. */
typedef struct fsy_child_slot {
    fsy_daemon_t *d;
    bool used;
    uint8_t rid[FSY_RID_MAX];
    size_t rid_len;
    fsy_peer_t peer;
    fsy_xfer_t xfer; /* attachments to and from this child */
    /* the daemon run behind it, from its last HELLO (site_claim.h) */
    char address[64];
    char instance[FSY_INSTANCE_MAX + 1];
    uint64_t since_ms;   /* its first HELLO on this slot */
    uint64_t claimed_ms; /* another run of the site last refused; 0 none */
    const char *end_why; /* a reload ended its section: the loop ends it */
} fsy_child_slot_t;

/* The loop's periodic jobs (loop.c, s_jobs): when each last ran. */
#define FSY_LOOP_JOBS 9
/* The write-ahead log is copied into the database (by a thread of its
 * own: checkpoint.h) once it holds this many KiB and no changes have
 * moved for a while, or half the second even while they move; a commit
 * copies it itself at the second (32 MiB), should the thread not keep
 * up. The first is what SQLite's own checkpoints allow with 4 KiB pages. */
#define FSY_WAL_SOFT_KIB 4000
#define FSY_WAL_HARD_KIB 32768

/* What the signal handlers set (main.c); the loop acts between turns and
 * logs each. */
typedef struct fsy_signals {
    volatile sig_atomic_t stop;    /* SIGTERM or SIGINT: its number */
    volatile sig_atomic_t reload;  /* SIGHUP: re-read the configuration */
    volatile sig_atomic_t connect; /* SIGUSR1: connect to the parent now */
} fsy_signals_t;

struct fsy_daemon {
    fsy_config_t cfg;
    char config_path[4096]; /* re-read on SIGHUP (reconfig.h) */
    bool curve;             /* links encrypted and authenticated */
    fsy_identity_t id;      /* this site's keys (with CURVE) */
    uint8_t parent_curve_pk[32];
    fsy_store_t *store;
    fsy_transport_t tr;
    bool has_parent;
    fsy_peer_t parent;
    fsy_xfer_t parent_xfer;
    fsy_xfer_hub_t xfer_hub; /* who fetches which attachment */
    fsy_child_slot_t children[FSY_MAX_CHILDREN];
    size_t pump_next; /* the child pumped first next turn (loop.c) */
    uint64_t malformed;
    uint64_t sync_failures; /* syncs of lazy commits that failed (loop.c) */
    bool lazy_sync_asked;   /* of the checkpointer, not yet collected */
    uint64_t sync_skipped;  /* ... that it could not try (loop.c) */
    uint64_t synced_behind; /* ... and done (the stop line) */
    uint64_t started_ms;
    _Atomic uint64_t loop_ms;     /* last turn of the loop, for /healthz */
    _Atomic uint64_t turn_max_us; /* the longest turn yet, for /metrics */
    /* disk syncs of the replica's log that failed with an I/O error
     * (loop.c): /healthz is unhealthy from the first, /metrics counts */
    _Atomic uint64_t disk_sync_failed;
    /* the replica checked while running (loop.c, "verify") */
    fsy_verifier_t *verifier; /* while the check runs */
    uint64_t verify_mark;     /* as recorded: checked up to here */
    uint64_t verify_epoch;    /* the log's epoch when the check began */
    bool verify_done;         /* it ran (or could not) this run */
    char damaged[256];        /* damage found: the loop ends, main says it */
    fsy_http_t *http;
    uint64_t watchdog_us;           /* systemd's WatchdogSec, 0 if none */
    uint64_t job_ms[FSY_LOOP_JOBS]; /* last run of each periodic job */
    /* this turn: reading messages, then each job (a slow turn says) */
    uint64_t turn_us[1 + FSY_LOOP_JOBS];
    bool parent_live; /* as the health job last saw it */
    /* the last connection refused for an unknown key: shown on this
     * site's own row for a while (s_admit) */
    char key_note[200];
    uint64_t key_note_ms;
    char instance[FSY_INSTANCE_MAX + 1]; /* "host pid N" (main.c) */
    char routing_id[FSY_RID_MAX + 1];    /* to the parent: "site/nonce" */
    fsy_alerts_t alerts;        /* [alert] command: colours last told */
    unsigned handshakes_broken; /* with the parent, since the last one done */
    /* `fieldsync sync`: the last request acted on, and whether the
     * parent's status is recorded at once when its session is live */
    uint64_t sync_seen;
    bool sync_watch;
    /* the network coming back (netwatch.h): its socket (-1 none), the
     * last news of it not yet acted on (0 none), the last act */
    int netwatch_fd;
    uint64_t net_news_ms, net_acted_ms;
    /* the text index written behind the changes (loop.c, "index"): the
     * last frame read, the last time the job ran to the end */
    uint64_t frame_ms, indexed_ms;
    uint64_t moved;    /* changes and attachment bytes moved, all sessions */
    uint64_t moved_ms; /* when they last moved (heartbeats do not count) */
    /* the write-ahead log's copies (loop.c, "checkpoint"): the thread, the
     * log's pages at the last request, the failures already logged */
    struct fsy_checkpointer *checkpointer;
    unsigned ckpt_asked;
    uint64_t ckpt_failed;
    /* frames read through it, a session's next batch decoded while one is
     * applied (ahead.h); NULL if it could not be made (each batch is then
     * decoded in its turn) */
    struct fsy_ahead *ahead;
    uint64_t ahead_taken, ahead_deltas; /* its counts, as it ended */
};

/*
 * Runs the loop until sig->stop is set (by a signal handler), then ends
 * every session and records it so; reloads the configuration on
 * sig->reload. Sends READY=1, RELOADING=1 and STOPPING=1 to systemd.
 */
void fsy_loop_run(fsy_daemon_t *d, fsy_signals_t *sig);

#endif
