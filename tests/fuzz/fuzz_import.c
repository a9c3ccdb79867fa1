/*
 * libFuzzer target: bundle import with authorisation, as HQ imports a
 * courier's bundle from its child gao. The input is a bundle's payload
 * (records); the harness wraps it in a valid envelope signed with gao's
 * key and imports it into one replica, whose [child gao] section lets gao
 * write MLI and relay kidal. Whatever the records hold, the import either
 * applies what gao may write or refuses cleanly. Checked every 256 inputs:
 * the replica verifies, and every change in it is gao's or kidal's, in
 * MLI (anything else got past the authorisation).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "fieldsync/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fsy_store_t *s_hq;
static char s_path[64];
static uint8_t s_pk[32], s_sk[64];
static fsy_child_conf_t s_gao = {
    .site = "gao", .write_scopes = "MLI", .sites_below = "kidal"};
static fsy_bundle_signer_t s_signer;

static void
s_setup(void)
{
    char dir[] = "/tmp/fsy-fuzz-import-XXXXXX";
    char db[64];
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(db, sizeof db, "%s/hq.db", dir);
    snprintf(s_path, sizeof s_path, "%s/in.fsb", dir);
    if (sodium_init() < 0 || fsy_store_create(&s_hq, db, "hq") != FSY_OK)
        abort();
    uint8_t seed[32] = {0};
    memcpy(seed, "gao-field-office-fuzz-key-seed!", 31);
    crypto_sign_seed_keypair(s_pk, s_sk, seed);
    memcpy(s_signer.key, s_pk, 32);
    s_signer.auth = (fsy_authority_t){
        .role = FSY_ROLE_CHILD, .site = "gao", .child = &s_gao};
}

/* The payload in an envelope signed with gao's key, written to s_path. */
static int
s_write_signed(const uint8_t *payload, size_t n)
{
    size_t len;
    uint8_t *buf = fuzz_envelope(payload, n, s_pk, s_sk, &len);
    int rc = -1;
    FILE *f = buf != NULL ? fopen(s_path, "wb") : NULL;
    if (f != NULL) {
        rc = fwrite(buf, 1, len, f) == len ? 0 : -1;
        rc = fclose(f) == 0 ? rc : -1;
    }
    free(buf);
    return rc;
}

static int
s_allowed(const fsy_change_t *c, void *ctx)
{
    (void)ctx;
    const char *o = c->version.origin.site;
    if (strcmp(c->scope, "MLI") != 0 ||
        (strcmp(o, "gao") != 0 && strcmp(o, "kidal") != 0))
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    if (s_hq == NULL)
        s_setup();
    if (s_write_signed(data, size) != 0)
        return 0;
    fsy_bundle_trust_t trust = {.signers = &s_signer, .n = 1};
    fsy_apply_stats_t st;
    (void)fsy_bundle_import_trusted(s_hq, s_path, &trust, &st);
    if (++runs % 256 == 0) {
        fsy_verify_report_t r;
        if (fsy_store_verify(s_hq, &r) != FSY_OK)
            abort(); /* what an import applied left the replica unsound */
        if (fsy_store_export(s_hq, NULL, s_allowed, NULL) != FSY_OK)
            abort();
    }
    return 0;
}
