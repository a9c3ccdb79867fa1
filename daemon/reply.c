/*
 * fieldsync — HTTP replies. See reply.h.
 */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fsy_reply_text(fsy_reply_t *r, unsigned status, const char *fmt,
               const char *detail)
{
    size_t n = strlen(fmt) + strlen(detail) + 1;
    r->status = status;
    r->type = "text/plain; charset=utf-8";
    free(r->body);
    r->body = malloc(n);
    if (r->body != NULL)
        snprintf(r->body, n, fmt, detail);
}
