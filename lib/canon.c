/* fieldsync — canonical encodings for hashing. See canon.h. */
#include <string.h>

#include "canon.h"

static void
s_flush(fsy_canon_t *h)
{
    if (h->n > 0)
        crypto_generichash_update(&h->st, h->buf, h->n);
    h->n = 0;
}

void
fsy_canon_init(fsy_canon_t *h, size_t outlen, const char *domain)
{
    h->outlen = outlen;
    h->n = 0;
    crypto_generichash_init(&h->st, NULL, 0, outlen);
    fsy_canon_str(h, domain);
}

void
fsy_canon_u64(fsy_canon_t *h, uint64_t v)
{
    if (sizeof h->buf - h->n < 8)
        s_flush(h);
    for (int i = 0; i < 8; i++)
        h->buf[h->n++] = (uint8_t)(v >> (8 * i));
}

void
fsy_canon_bytes(fsy_canon_t *h, const void *p, size_t len)
{
    fsy_canon_u64(h, len);
    if (len == 0)
        return;
    if (len > sizeof h->buf - h->n) {
        s_flush(h);
        if (len > sizeof h->buf) {
            crypto_generichash_update(&h->st, p, len);
            return;
        }
    }
    memcpy(h->buf + h->n, p, len);
    h->n += len;
}

void
fsy_canon_str(fsy_canon_t *h, const char *s)
{
    fsy_canon_bytes(h, s, strlen(s));
}

void
fsy_canon_final(fsy_canon_t *h, uint8_t *out)
{
    s_flush(h);
    crypto_generichash_final(&h->st, out, h->outlen);
}
