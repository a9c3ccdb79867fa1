/*
 * fieldsync — an HTTP reply as the daemon's handlers build it, before the
 * server (http.c) queues it.
 *
 * Ownership: body and header_value are malloc'd and freed by whoever
 * queues (or drops) the reply; type and header are static strings.
 */
#ifndef FSY_REPLY_H
#define FSY_REPLY_H

#include <stdbool.h>

typedef struct fsy_reply {
    unsigned status;
    const char *type;
    char *body;
    const char *header; /* one extra header's name, or NULL */
    char *header_value;
    bool ask_auth; /* 401: ask for credentials (WWW-Authenticate) */
} fsy_reply_t;

/* A plain-text reply: fmt has one %s, filled with detail. A previous body
 * is freed. body stays NULL when out of memory. */
void fsy_reply_text(fsy_reply_t *r, unsigned status, const char *fmt,
                    const char *detail);

#endif
