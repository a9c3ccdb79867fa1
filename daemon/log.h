/*
 * fieldsync — daemon log lines: one line each, key=value.
 *
 *   2026-11-29T19:46:22.123Z level=info site=gao event=hello peer=parent
 *
 * The caller's format gives the key=value pairs after "event=". Lines go
 * to stderr (journald adds its own timestamps, the line keeps ours) or to
 * syslog with the matching priority; lines below the configured level are
 * dropped. One call writes one line, whole, from any thread.
 */
#ifndef FSY_LOG_H
#define FSY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The site id put on every line (borrowed; set once at start). */
void fsy_log_set_site(const char *site);

/* The least level written (FSY_LOG_* of fieldsync/config.h), and whether
 * lines go to syslog instead of stderr. Set once at start. */
void fsy_log_configure(int level, bool syslog);

/* level: "debug", "info", "warn" or "error". */
void fsy_log(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "2026-12-03T14:05:00Z" for a wall-clock time in ms, or "" for 0. */
void fsy_log_iso(uint64_t ms, char *buf, size_t len);

/* For what a peer can repeat at will (a refused key, a bad frame): true
 * for the 1st, 2nd, 4th, 8th ... time, so the log shows it without being
 * flooded. */
bool fsy_log_worth(uint64_t n);

#endif
