/*
 * fieldsync — daemon log lines: one line each, key=value, to stderr.
 *
 *   2026-11-29T19:46:22.123Z level=info site=gao event=hello peer=parent
 *
 * The caller's format gives the key=value pairs after "event=".
 */
#ifndef FSY_LOG_H
#define FSY_LOG_H

/* The site id put on every line (borrowed; set once at start). */
void fsy_log_set_site(const char *site);

void fsy_log(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
