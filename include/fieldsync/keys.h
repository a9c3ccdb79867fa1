/*
 * fieldsync — site keys.
 *
 * Each site has one Ed25519 identity. Its secret key file holds the 32-byte
 * seed; its public key is the Ed25519 public key. Both are Z85 text (40
 * characters), one line. The CURVE key pair ZeroMQ uses for encrypted,
 * authenticated links is derived from the identity, so an operator handles
 * one key pair per site, and the same identity can sign bundles.
 *
 * Errors: FSY_ENOTFOUND, FSY_EEXIST (keygen without force), FSY_EIO,
 * FSY_EINVAL (malformed key text, or a secret key file readable by others).
 */
#ifndef FIELDSYNC_KEYS_H
#define FIELDSYNC_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FSY_KEY_Z85_LEN 40 /* characters of a 32-byte key in Z85 */

typedef struct fsy_identity {
    uint8_t seed[32];     /* secret: the Ed25519 seed */
    uint8_t sign_pk[32];  /* Ed25519 public key */
    uint8_t sign_sk[64];  /* Ed25519 secret key (seed + public) */
    uint8_t curve_pk[32]; /* derived CURVE public key */
    uint8_t curve_sk[32]; /* derived CURVE secret key */
} fsy_identity_t;

/*
 * Writes NAME.key (the seed, mode 0600) and NAME.pub (the public key) for
 * a fresh identity. Refuses to overwrite either unless force.
 * public_z85 (may be NULL) receives the public key text.
 */
int fsy_keygen(const char *name, bool force,
               char public_z85[FSY_KEY_Z85_LEN + 1]);

/* Loads a secret key file and derives the rest of the identity. */
int fsy_identity_load(const char *path, fsy_identity_t *id);

/* Wipes an identity from memory. */
void fsy_identity_wipe(fsy_identity_t *id);

/*
 * Parses a public key (Z85 of an Ed25519 public key) and derives its
 * CURVE public key. Either output may be NULL.
 */
int fsy_public_key_parse(const char *z85, uint8_t sign_pk[32],
                         uint8_t curve_pk[32]);

#ifdef __cplusplus
}
#endif
#endif
