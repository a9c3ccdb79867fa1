/*
 * fieldsync — protobuf codec: change batches, bundle headers and the live
 * sync frames. See wire.h; the HEALTH family is wire_health.c, and what
 * both share is wire_codec.c.
 *
 * Origins are written once per message in a table and referenced by index;
 * a batch of 1,000 changes from three sites carries three site names, not
 * a thousand.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "fieldsync/error.h"
#include "fieldsync.pb-c.h"
#include "fieldsync/ident.h"
#include "wire.h"
#include "wire_blob.h"
#include "wire_codec.h"
#include "wire_stream.h"
#include "wire_health.h"

/* ---- encoding a batch ------------------------------------------------- */

/* Field names numbered in order of first use in a batch (format 2): a
 * small open-addressing table of indexes into the batch's changes. */
typedef struct s_names {
    const fsy_change_t *c; /* the batch: names are c[first[k]].field */
    uint32_t *slot;        /* 1 + the number of the name, 0 empty */
    size_t *first;         /* by number: the change that named it */
    size_t n, cap;         /* cap: slots, a power of two */
} s_names_t;

static uint64_t
s_name_hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211u;
    return h;
}

/* The number of change i's field name; *fresh when it is new here. */
static int
s_names_number(s_names_t *t, size_t i, uint32_t *num, bool *fresh)
{
    const char *name = t->c[i].field;
    size_t k = (size_t)s_name_hash(name) & (t->cap - 1);
    for (; t->slot[k] != 0; k = (k + 1) & (t->cap - 1))
        if (strcmp(t->c[t->first[t->slot[k] - 1]].field, name) == 0) {
            *num = t->slot[k] - 1;
            *fresh = false;
            return FSY_OK;
        }
    t->first[t->n] = i;
    *num = (uint32_t)t->n;
    t->slot[k] = (uint32_t)++t->n;
    *fresh = true;
    return FSY_OK;
}

typedef struct s_batch_enc {
    Fieldsync__ChangeBatch msg;
    fsy_wire_otab_t origins;
    Fieldsync__Change *changes;
    Fieldsync__Change **cptrs;
    Fieldsync__Version *versions; /* all bases, flat */
    Fieldsync__Version **vptrs;
    s_names_t fields;
    uint8_t hash[FSY_CHECKSUM_LEN];
} s_batch_enc_t;

static void
s_batch_enc_free(s_batch_enc_t *e)
{
    fsy_wire_otab_free(&e->origins);
    free(e->changes);
    free(e->cptrs);
    free(e->versions);
    free(e->vptrs);
    free(e->fields.slot);
    free(e->fields.first);
}

static int
s_enc_bases(s_batch_enc_t *e, const fsy_change_t *c, Fieldsync__Change *m,
            size_t *vi)
{
    m->n_bases = c->n_bases;
    m->bases = &e->vptrs[*vi];
    for (size_t k = 0; k < c->n_bases; k++, (*vi)++) {
        Fieldsync__Version *v = &e->versions[*vi];
        fieldsync__version__init(v);
        v->hlc = c->bases[k].hlc;
        v->seq = c->bases[k].seq;
        int rc =
            fsy_wire_otab_index(&e->origins, &c->bases[k].origin, &v->origin);
        if (rc != FSY_OK)
            return rc;
        e->vptrs[*vi] = v;
    }
    return FSY_OK;
}

/* Change i in format 2: what the previous change tells is left out
 * (proto/fieldsync.proto, message Change). */
static int
s_enc_change(s_batch_enc_t *e, const fsy_change_t *all, size_t i,
             const fsy_delta_t *d, Fieldsync__Change *m, size_t *vi)
{
    const fsy_change_t *c = &all[i], *prev = i > 0 ? &all[i - 1] : NULL;
    fieldsync__change__init(m);
    uint32_t oi, fi;
    bool fresh;
    int rc = fsy_wire_otab_index(&e->origins, &c->version.origin, &oi);
    if (rc == FSY_OK)
        rc = s_names_number(&e->fields, i, &fi, &fresh);
    if (rc != FSY_OK)
        return rc;
    bool same_origin =
        prev && fsy_origin_eq(&prev->version.origin, &c->version.origin);
    bool same_scope = prev && strcmp(prev->scope, c->scope) == 0;
    m->has_origin = !same_origin;
    m->origin = oi;
    m->scope = same_scope ? NULL : (char *)c->scope;
    m->has_seq =
        !(same_origin && same_scope && c->version.seq == prev->version.seq + 1);
    m->seq = c->version.seq;
    /* hlcs are below 2^63 (validated): the difference fits */
    m->hlc_delta =
        (int64_t)c->version.hlc - (prev ? (int64_t)prev->version.hlc : 0);
    m->has_hlc_delta = m->hlc_delta != 0;
    m->doc = prev && strcmp(prev->doc, c->doc) == 0 ? NULL : (char *)c->doc;
    m->author = strcmp(prev ? prev->author : "", c->author) == 0
                    ? NULL
                    : (char *)c->author;
    m->field = fresh ? (char *)c->field : NULL;
    m->has_field_ref = !fresh;
    m->field_ref = fi;
    m->has_value = !c->absent;
    m->has_ref = c->ref;
    m->ref = c->ref;
    m->value.data = c->value;
    m->value.len = c->value_len;
    if (d != NULL && d->bytes != NULL) { /* what changed since its base */
        m->has_value = false;
        m->has_delta = true;
        m->delta.data = d->bytes;
        m->delta.len = d->len;
        m->has_delta_base = d->base != 0;
        m->delta_base = d->base;
    }
    m->has_txn_end = c->txn_end;
    m->txn_end = c->txn_end;
    return s_enc_bases(e, c, m, vi);
}

static int
s_batch_alloc(s_batch_enc_t *e, size_t n, size_t nv)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    e->changes = calloc(n ? n : 1, sizeof *e->changes);
    e->cptrs = calloc(n ? n : 1, sizeof *e->cptrs);
    e->versions = calloc(nv ? nv : 1, sizeof *e->versions);
    e->vptrs = calloc(nv ? nv : 1, sizeof *e->vptrs);
    e->fields.slot = calloc(cap, sizeof *e->fields.slot);
    e->fields.first = calloc(n ? n : 1, sizeof *e->fields.first);
    e->fields.cap = cap;
    if (!e->changes || !e->cptrs || !e->versions || !e->vptrs ||
        !e->fields.slot || !e->fields.first)
        return fsy_err_set(FSY_ENOMEM, "out of memory encoding changes");
    return FSY_OK;
}

static int
s_batch_build(s_batch_enc_t *e, const fsy_change_t *c, size_t n,
              const fsy_delta_t *d)
{
    size_t nv = 0;
    for (size_t i = 0; i < n; i++)
        nv += c[i].n_bases;
    fieldsync__change_batch__init(&e->msg);
    int rc = s_batch_alloc(e, n, nv);
    if (rc != FSY_OK)
        return rc;
    e->fields.c = c;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, sizeof e->hash);
    size_t vi = 0;
    for (size_t i = 0; i < n; i++) {
        if ((rc = s_enc_change(e, c, i, d ? &d[i] : NULL, &e->changes[i],
                               &vi)) != FSY_OK)
            return rc;
        e->cptrs[i] = &e->changes[i];
        crypto_generichash_update(&h, c[i].checksum, FSY_CHECKSUM_LEN);
    }
    crypto_generichash_final(&h, e->hash, sizeof e->hash);
    if ((rc = fsy_wire_otab_ptrs(&e->origins)) != FSY_OK)
        return rc;
    e->msg.n_origins = e->origins.n;
    e->msg.origins = e->origins.ptrs;
    e->msg.n_changes = n;
    e->msg.changes = e->cptrs;
    e->msg.has_hash = n > 0;
    e->msg.hash.data = e->hash;
    e->msg.hash.len = sizeof e->hash;
    return FSY_OK;
}

int
fsy_wire_encode_batch(const fsy_change_t *c, size_t n, uint8_t **out,
                      size_t *len)
{
    return fsy_wire_encode_batch_deltas(c, n, NULL, out, len);
}

int
fsy_wire_encode_batch_deltas(const fsy_change_t *c, size_t n,
                             const fsy_delta_t *d, uint8_t **out, size_t *len)
{
    s_batch_enc_t e = {0};
    int rc = s_batch_build(&e, c, n, d);
    if (rc == FSY_OK)
        rc = fsy_wire_pack(&e.msg.base, out, len);
    s_batch_enc_free(&e);
    return rc;
}

int
fsy_wire_encode_bundle_header(const fsy_origin_t *sender, uint64_t created_ms,
                              const fsy_vv_t *vv, const char *merge_rule,
                              uint8_t **out, size_t *len)
{
    Fieldsync__BundleHeader b = FIELDSYNC__BUNDLE_HEADER__INIT;
    Fieldsync__Origin so = FIELDSYNC__ORIGIN__INIT;
    fsy_wire_vv_enc_t ve = {0};
    so.site = (char *)sender->site;
    so.incarnation = sender->incarnation;
    b.format = FSY_BUNDLE_FORMAT;
    b.sender = &so;
    b.created_ms = created_ms;
    b.merge_rule = (char *)merge_rule;
    int rc = fsy_wire_vv_build(&ve, vv);
    if (rc == FSY_OK) {
        b.sender_vv = &ve.msg;
        rc = fsy_wire_pack(&b.base, out, len);
    }
    fsy_wire_vv_enc_free(&ve);
    return rc;
}

/* ---- decoding a batch and a bundle header ---------------------------- */

int
fsy_wire_decode_batch(const uint8_t *buf, size_t len, fsy_change_list_t *out)
{
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, out);
    int rc = fsy_batch_parser_feed(&p, buf, len);
    if (rc == FSY_OK)
        rc = fsy_batch_parser_end(&p);
    fsy_batch_parser_free(&p);
    if (rc != FSY_OK)
        fsy_change_list_clear(out);
    return rc;
}

int
fsy_wire_decode_bundle_header(const uint8_t *buf, size_t len,
                              fsy_bundle_header_t *out)
{
    fsy_wire_budget_t budget;
    fsy_wire_budget_init(&budget, len);
    Fieldsync__BundleHeader *m =
        fieldsync__bundle_header__unpack(&budget.a, len, buf);
    if (m == NULL)
        return fsy_err_set(FSY_ECORRUPT, "bundle header is undecodable");
    int rc = FSY_OK;
    if (m->format < FSY_BUNDLE_FORMAT_MIN || m->format > FSY_BUNDLE_FORMAT)
        rc = fsy_err_set(FSY_EVERSION,
                         "bundle format %u is not supported "
                         "(this fieldsync reads %d to %d): upgrade "
                         "fieldsync",
                         m->format, FSY_BUNDLE_FORMAT_MIN, FSY_BUNDLE_FORMAT);
    out->format = m->format;
    if (rc == FSY_OK)
        rc = fsy_wire_dec_origin(m->sender, &out->sender);
    out->created_ms = m->created_ms;
    if (rc == FSY_OK && m->merge_rule != NULL &&
        strlen(m->merge_rule) > FSY_MERGE_RULE_MAX)
        rc = fsy_err_set(FSY_EINVAL, "bundle's merge rule is too long");
    if (rc == FSY_OK && m->merge_rule != NULL) { /* compared, then shown */
        snprintf(out->merge_rule, sizeof out->merge_rule, "%s", m->merge_rule);
        fsy_text_clean(out->merge_rule);
    }
    if (rc == FSY_OK)
        rc = fsy_wire_dec_vv(m->sender_vv, &out->sender_vv);
    fieldsync__bundle_header__free_unpacked(m, &budget.a);
    return rc;
}

/* ---- live sync messages ----------------------------------------------- */

/* Compresses an encoded batch into Batch.payload (caller frees *z). */
static int
s_enc_batch_msg(const fsy_msg_t *m, Fieldsync__Batch *b, uint8_t **z)
{
    if (m->zpayload != NULL) { /* compressed already: in a stream or alone */
        b->id = m->id;
        b->raw_len = m->raw_len;
        b->has_urgent = m->urgent;
        b->urgent = m->urgent;
        b->payload.data = m->zpayload;
        b->payload.len = m->zlen;
        b->has_stream = b->has_stream_seq = m->zstream != 0;
        b->stream = m->zstream;
        b->stream_seq = m->zseq;
        return FSY_OK;
    }
    uint8_t *raw;
    size_t raw_len = 0, zl = 0;
    int rc = fsy_wire_encode_batch(m->changes.v, m->changes.n, &raw, &raw_len);
    if (rc != FSY_OK)
        return rc;
    rc = fsy_wire_compress(raw, raw_len, z, &zl);
    free(raw);
    if (rc != FSY_OK)
        return rc;
    b->id = m->id;
    b->raw_len = raw_len;
    b->has_urgent = m->urgent;
    b->urgent = m->urgent;
    b->payload.data = *z;
    b->payload.len = zl;
    return FSY_OK;
}

/* A HELLO's tips, as protobuf-c wants them (pointers into m). */
typedef struct s_tips_enc {
    Fieldsync__StreamTip *v;
    Fieldsync__StreamTip **p;
} s_tips_enc_t;

static int
s_enc_tips(const fsy_msg_t *m, Fieldsync__Hello *h, s_tips_enc_t *e)
{
    if (m->n_tips == 0)
        return FSY_OK;
    e->v = calloc(m->n_tips, sizeof *e->v);
    e->p = calloc(m->n_tips, sizeof *e->p);
    if (e->v == NULL || e->p == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n_tips; i++) {
        fieldsync__stream_tip__init(&e->v[i]);
        e->v[i].scope = (char *)m->tips[i].scope;
        e->v[i].seq = m->tips[i].seq;
        e->v[i].checksum.data = (uint8_t *)m->tips[i].checksum;
        e->v[i].checksum.len = FSY_CHECKSUM_LEN;
        e->p[i] = &e->v[i];
    }
    h->tips = e->p;
    h->n_tips = m->n_tips;
    return FSY_OK;
}

static int
s_dec_tips(const Fieldsync__Hello *h, fsy_msg_t *out)
{
    if (h->n_tips == 0)
        return FSY_OK;
    if (h->n_tips > FSY_TIPS_MAX)
        return fsy_err_set(FSY_ETOOBIG, "%zu stream tips", h->n_tips);
    if ((out->tips = calloc(h->n_tips, sizeof *out->tips)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    for (size_t i = 0; i < h->n_tips; i++) {
        const Fieldsync__StreamTip *t = h->tips[i];
        fsy_tip_t *o = &out->tips[i];
        int rc =
            fsy_wire_copy_str(o->scope, sizeof o->scope, t->scope, "scope");
        if (rc == FSY_OK)
            rc = fsy_check_scope(o->scope);
        if (rc == FSY_OK && t->checksum.len != FSY_CHECKSUM_LEN)
            rc = fsy_err_set(FSY_EINVAL, "tip checksum of %zu bytes",
                             t->checksum.len);
        if (rc != FSY_OK)
            return rc;
        memcpy(o->checksum, t->checksum.data, FSY_CHECKSUM_LEN);
        o->seq = t->seq;
        out->n_tips++;
    }
    return FSY_OK;
}

static int
s_dec_root(const Fieldsync__VersionVector *root, fsy_msg_t *out)
{
    out->has_root = root != NULL;
    return root == NULL ? FSY_OK : fsy_wire_dec_vv(root, &out->root);
}

int
fsy_wire_encode_msg(const fsy_msg_t *m, uint8_t **out, size_t *len)
{
    Fieldsync__Frame f = FIELDSYNC__FRAME__INIT;
    Fieldsync__Hello hello = FIELDSYNC__HELLO__INIT;
    Fieldsync__Batch batch = FIELDSYNC__BATCH__INIT;
    Fieldsync__Ack ack = FIELDSYNC__ACK__INIT;
    Fieldsync__Heartbeat hb = FIELDSYNC__HEARTBEAT__INIT;
    Fieldsync__Refuse refuse = FIELDSYNC__REFUSE__INIT;
    Fieldsync__Health health = FIELDSYNC__HEALTH__INIT;
    Fieldsync__Origin origin = FIELDSYNC__ORIGIN__INIT;
    int rc = FSY_OK;
    fsy_wire_vv_enc_t ve = {0}, re = {0};
    fsy_wire_blob_enc_t be = {0};
    s_tips_enc_t tips = {0};
    Fieldsync__VersionVector *root = NULL;
    if (m->has_root) {
        rc = fsy_wire_vv_build(&re, &m->root);
        root = &re.msg;
    }
    uint8_t *z = NULL;
    f.protocol = FSY_PROTOCOL_VERSION;
    switch (m->type) {
    case FSY_MSG_HELLO:
        origin.site = (char *)m->origin.site;
        origin.incarnation = m->origin.incarnation;
        hello.origin = &origin;
        hello.max_value = m->max_value;
        hello.max_txn_changes = m->max_txn_changes;
        hello.has_attachments = m->attachments != 0;
        hello.attachments = m->attachments;
        if (rc == FSY_OK)
            rc = fsy_wire_vv_build(&ve, &m->vv);
        hello.vv = &ve.msg;
        hello.root = root;
        if (m->instance[0] != '\0')
            hello.instance = (char *)m->instance;
        hello.has_stream_window_log = m->has_window;
        hello.stream_window_log = m->window_log;
        if (m->merge_rule[0] != '\0')
            hello.merge_rule = (char *)m->merge_rule;
        if (rc == FSY_OK)
            rc = s_enc_tips(m, &hello, &tips);
        f.body_case = FIELDSYNC__FRAME__BODY_HELLO;
        f.hello = &hello;
        break;
    case FSY_MSG_BATCH:
        rc = s_enc_batch_msg(m, &batch, &z);
        f.body_case = FIELDSYNC__FRAME__BODY_BATCH;
        f.batch = &batch;
        break;
    case FSY_MSG_ACK:
        ack.id = m->id;
        ack.gapped = m->gapped;
        ack.refused = m->refused;
        if (rc == FSY_OK)
            rc = fsy_wire_vv_build(&ve, &m->vv);
        ack.vv = &ve.msg;
        ack.root = root;
        f.body_case = FIELDSYNC__FRAME__BODY_ACK;
        f.ack = &ack;
        break;
    case FSY_MSG_HEARTBEAT:
        hb.sent_ms = m->sent_ms;
        hb.root = root;
        f.body_case = FIELDSYNC__FRAME__BODY_HEARTBEAT;
        f.heartbeat = &hb;
        break;
    case FSY_MSG_REFUSE:
        refuse.reason = (char *)m->reason;
        refuse.has_retry_ms = m->retry_ms != 0;
        refuse.retry_ms = m->retry_ms;
        f.body_case = FIELDSYNC__FRAME__BODY_REFUSE;
        f.refuse = &refuse;
        break;
    case FSY_MSG_HEALTH:
        rc = fsy_wire_enc_health(m, &health, &z);
        f.body_case = FIELDSYNC__FRAME__BODY_HEALTH;
        f.health = &health;
        break;
    case FSY_MSG_WANT:
    case FSY_MSG_CHUNK:
    case FSY_MSG_NOTHAVE:
        rc = fsy_wire_enc_blob(m, &f, &be);
        break;
    default:
        rc = fsy_err_set(FSY_EINTERNAL, "unknown message type %d", m->type);
    }
    if (rc == FSY_OK)
        rc = fsy_wire_pack(&f.base, out, len);
    fsy_wire_blob_enc_free(&be);
    free(tips.v);
    free(tips.p);
    fsy_wire_vv_enc_free(&ve);
    fsy_wire_vv_enc_free(&re);
    free(z);
    return rc;
}

static int
s_dec_batch_msg(const Fieldsync__Batch *b, fsy_msg_t *out)
{
    out->id = b->id;
    out->urgent = b->has_urgent && b->urgent;
    if (b->has_stream) { /* the session inflates it, in its stream */
        if (b->stream == 0 || !b->has_stream_seq || b->raw_len > FSY_MSG_MAX)
            return fsy_err_set(FSY_EINVAL, "batch of stream %llu",
                               (unsigned long long)b->stream);
        if ((out->zpayload = malloc(b->payload.len ? b->payload.len : 1)) ==
            NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        memcpy(out->zpayload, b->payload.data, b->payload.len);
        out->zlen = b->payload.len;
        out->raw_len = b->raw_len;
        out->zstream = b->stream;
        out->zseq = b->stream_seq;
        return FSY_OK;
    }
    int rc = fsy_wire_inflate_batch(b->payload.data, b->payload.len, b->raw_len,
                                    FSY_MSG_MAX, &out->changes);
    if (rc == FSY_OK && out->changes.n == 0)
        rc = fsy_err_set(FSY_EINVAL, "empty batch");
    out->id = b->id;
    out->urgent = b->has_urgent && b->urgent;
    return rc;
}

static int
s_dec_msg_body(const Fieldsync__Frame *f, fsy_msg_t *out)
{
    switch (f->body_case) {
    case FIELDSYNC__FRAME__BODY_HELLO: {
        out->type = FSY_MSG_HELLO;
        out->max_value = f->hello->max_value;
        out->max_txn_changes = f->hello->max_txn_changes;
        out->attachments =
            f->hello->has_attachments ? f->hello->attachments : 0;
        if (out->attachments > 2)
            return fsy_err_set(FSY_EINVAL, "unknown attachments policy %u",
                               out->attachments);
        if (f->hello->instance != NULL) { /* it reaches logs and pages */
            snprintf(out->instance, sizeof out->instance, "%s",
                     f->hello->instance);
            fsy_text_clean(out->instance);
        }
        out->has_window = f->hello->has_stream_window_log;
        out->window_log = f->hello->stream_window_log;
        if (f->hello->merge_rule != NULL) { /* compared, then logged */
            if (strlen(f->hello->merge_rule) > FSY_MERGE_RULE_MAX)
                return fsy_err_set(FSY_EINVAL, "merge rule too long");
            snprintf(out->merge_rule, sizeof out->merge_rule, "%s",
                     f->hello->merge_rule);
            fsy_text_clean(out->merge_rule);
        }
        int rc = fsy_wire_dec_origin(f->hello->origin, &out->origin);
        if (rc == FSY_OK)
            rc = fsy_wire_dec_vv(f->hello->vv, &out->vv);
        if (rc == FSY_OK)
            rc = s_dec_root(f->hello->root, out);
        return rc ? rc : s_dec_tips(f->hello, out);
    }
    case FIELDSYNC__FRAME__BODY_BATCH:
        out->type = FSY_MSG_BATCH;
        return s_dec_batch_msg(f->batch, out);
    case FIELDSYNC__FRAME__BODY_ACK: {
        out->type = FSY_MSG_ACK;
        out->id = f->ack->id;
        out->gapped = f->ack->gapped;
        out->refused = f->ack->refused;
        int rc = fsy_wire_dec_vv(f->ack->vv, &out->vv);
        return rc ? rc : s_dec_root(f->ack->root, out);
    }
    case FIELDSYNC__FRAME__BODY_HEARTBEAT:
        out->type = FSY_MSG_HEARTBEAT;
        out->sent_ms = f->heartbeat->sent_ms;
        return s_dec_root(f->heartbeat->root, out);
    case FIELDSYNC__FRAME__BODY_REFUSE:
        out->type = FSY_MSG_REFUSE;
        snprintf(out->reason, sizeof out->reason, "%s", f->refuse->reason);
        fsy_text_clean(out->reason); /* it reaches logs and terminals */
        out->retry_ms = f->refuse->has_retry_ms ? f->refuse->retry_ms : 0;
        return FSY_OK;
    case FIELDSYNC__FRAME__BODY_HEALTH:
        out->type = FSY_MSG_HEALTH;
        return fsy_wire_dec_health(f->health, out);
    case FIELDSYNC__FRAME__BODY_WANT:
    case FIELDSYNC__FRAME__BODY_CHUNK:
    case FIELDSYNC__FRAME__BODY_NOTHAVE:
        return fsy_wire_dec_blob(f, out);
    default:
        return fsy_err_set(FSY_EFORMAT, "frame without a body");
    }
}

int
fsy_wire_decode_msg(const uint8_t *buf, size_t len, fsy_msg_t *out)
{
    memset(out, 0, sizeof *out);
    if (len > FSY_MSG_MAX)
        return fsy_err_set(FSY_ETOOBIG,
                           "frame of %zu bytes is over the "
                           "%zu-byte limit",
                           len, FSY_MSG_MAX);
    fsy_wire_budget_t budget;
    fsy_wire_budget_init(&budget, len);
    Fieldsync__Frame *f = fieldsync__frame__unpack(&budget.a, len, buf);
    if (f == NULL)
        return fsy_err_set(FSY_EFORMAT, "undecodable frame");
    int rc = FSY_OK;
    if (f->protocol != FSY_PROTOCOL_VERSION)
        rc = fsy_err_set(FSY_EVERSION,
                         "peer speaks protocol %u, this "
                         "fieldsyncd speaks %d",
                         f->protocol, FSY_PROTOCOL_VERSION);
    if (rc == FSY_OK)
        rc = s_dec_msg_body(f, out);
    fieldsync__frame__free_unpacked(f, &budget.a);
    if (rc != FSY_OK)
        fsy_msg_clear(out);
    return rc;
}
