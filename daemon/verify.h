/*
 * fieldsync — the whole replica checked while the daemon runs.
 *
 * A start checks only the changes added since the last check (main.c), so a
 * restart does not wait for a million checksums; this checks the rest as
 * fsy_store_verify does (every change against its checksum, in steps whose
 * progress is published, then the vector against the log and SQLite's integrity
 * check) on a thread of its own with a connection of its own, so the loop never
 * waits for it, stepping aside while sessions move changes or attachments. The
 * loop polls it; damage stops the daemon as it would have refused the start
 * (changes read to be sent are checked as well: peer.c).
 *
 * Ownership: fsy_verifier_start allocates *out; fsy_verifier_stop
 * interrupts the check, waits for the thread and frees it (NULL is fine).
 */
#ifndef FSY_DAEMON_VERIFY_H
#define FSY_DAEMON_VERIFY_H

#include <stddef.h>
#include <stdint.h>

typedef struct fsy_verifier fsy_verifier_t;

typedef enum fsy_verify_state {
    FSY_VERIFY_RUNNING,
    FSY_VERIFY_SOUND,   /* every change up to *through is sound */
    FSY_VERIFY_DAMAGED, /* why says what */
    FSY_VERIFY_FAILED   /* could not check (busy, memory): why says */
} fsy_verify_state_t;

/* Starts checking the replica at db, not before grace_ms (the daemon's
 * sessions come up and begin their catch-ups first); before each step it
 * waits until no data moved for quiet_ms (fsy_verifier_traffic). FSY_ENOMEM,
 * or FSY_EINTERNAL if no thread could be made. */
int fsy_verifier_start(fsy_verifier_t **out, const char *db, unsigned quiet_ms,
                       unsigned grace_ms);

/* Where the check is: *through, every change up to it found sound so far
 * (while it runs too); once it is over, why (DAMAGED, FAILED). */
fsy_verify_state_t fsy_verifier_poll(fsy_verifier_t *v, uint64_t *through,
                                     char *why, size_t len);

/* A session moved changes or attachment bytes: the check steps aside
 * until none has for a while (at most ten minutes in all a run). Safe
 * from any thread until fsy_verifier_stop; NULL is fine. */
void fsy_verifier_traffic(fsy_verifier_t *v);

void fsy_verifier_stop(fsy_verifier_t **v);

#endif
