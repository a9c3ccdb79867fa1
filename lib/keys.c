/* fieldsync — site keys. See include/fieldsync/keys.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fieldsync/error.h"
#include "fieldsync/keys.h"
#include "z85.h"

static int
s_derive(fsy_identity_t *id)
{
    if (crypto_sign_seed_keypair(id->sign_pk, id->sign_sk, id->seed) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(id->curve_pk, id->sign_pk) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(id->curve_sk, id->sign_sk) != 0)
        return fsy_err_set(FSY_EINVAL, "key derivation failed");
    return FSY_OK;
}

static int
s_z85(const uint8_t key[32], char out[FSY_KEY_Z85_LEN + 1])
{
    return fsy_z85_encode(out, key, 32);
}

/* Refuses an existing path (a dangling symlink exists too) unless force. */
static int
s_check_absent(const char *path, bool force)
{
    struct stat st;
    if (force || lstat(path, &st) != 0)
        return FSY_OK;
    return fsy_err_set(FSY_EEXIST, "%s exists (use --force to replace it)",
                       path);
}

/*
 * Writes "text\n" to path through a new file in the same directory, then
 * renames it over path: whatever path was (a file, a symlink planted to
 * catch the secret), the key lands in a new file of this mode, and a
 * crash leaves the old one or the new one whole.
 */
static int
s_write_key(const char *path, const char *text, mode_t mode, bool force)
{
    int rc = s_check_absent(path, force);
    char tmp[4200];
    if (rc != FSY_OK)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp); /* O_EXCL, 0600: never an existing file */
    if (fd < 0)
        return fsy_err_set(FSY_EIO, "%s: %s", path, strerror(errno));
    size_t len = strlen(text);
    if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len ||
        write(fd, "\n", 1) != 1 || fsync(fd) != 0)
        rc = fsy_err_set(FSY_EIO, "%s: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == FSY_OK)
        rc = fsy_err_set(FSY_EIO, "%s: %s", path, strerror(errno));
    /* Without force, link(2) refuses an existing path, even one made since
     * the check; with force, rename(2) replaces it (a symlink itself). */
    if (rc == FSY_OK && (force ? rename(tmp, path) : link(tmp, path)) != 0)
        rc = fsy_err_set(errno == EEXIST ? FSY_EEXIST : FSY_EIO, "%s: %s%s",
                         path, strerror(errno),
                         errno == EEXIST ? " (use --force to replace it)" : "");
    if (rc != FSY_OK || !force)
        unlink(tmp);
    return rc;
}

int
fsy_keygen(const char *name, bool force, char public_z85[FSY_KEY_Z85_LEN + 1])
{
    if (sodium_init() < 0)
        return fsy_err_set(FSY_EINTERNAL, "libsodium failed to initialise");
    fsy_identity_t id;
    char seed[FSY_KEY_Z85_LEN + 1], pub[FSY_KEY_Z85_LEN + 1], path[4096];
    randombytes_buf(id.seed, sizeof id.seed);
    int rc = s_derive(&id);
    if (rc == FSY_OK)
        rc = s_z85(id.seed, seed);
    if (rc == FSY_OK)
        rc = s_z85(id.sign_pk, pub);
    if (rc == FSY_OK && snprintf(path, sizeof path, "%s.pub", name) > 0)
        rc = s_check_absent(path, force);
    if (rc == FSY_OK) {
        snprintf(path, sizeof path, "%s.key", name);
        rc = s_write_key(path, seed, 0600, force);
    }
    if (rc == FSY_OK) {
        snprintf(path, sizeof path, "%s.pub", name);
        rc = s_write_key(path, pub, 0644, true);
    }
    if (rc == FSY_OK && public_z85 != NULL)
        memcpy(public_z85, pub, sizeof pub);
    sodium_memzero(seed, sizeof seed);
    fsy_identity_wipe(&id);
    return rc;
}

/* Reads one line of exactly FSY_KEY_Z85_LEN characters. */
static int
s_read_line(const char *path, char out[FSY_KEY_Z85_LEN + 1])
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return fsy_err_set(errno == ENOENT ? FSY_ENOTFOUND : FSY_EIO,
                           "cannot read key %s: %s", path, strerror(errno));
    char buf[128];
    bool ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    size_t n = ok ? strcspn(buf, "\r\n") : 0;
    if (!ok || n != FSY_KEY_Z85_LEN)
        return fsy_err_set(FSY_EINVAL, "%s is not a fieldsync key file", path);
    memcpy(out, buf, n);
    out[n] = '\0';
    sodium_memzero(buf, sizeof buf);
    return FSY_OK;
}

int
fsy_identity_load(const char *path, fsy_identity_t *id)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && (sb.st_mode & 077) != 0)
        return fsy_err_set(FSY_EINVAL,
                           "%s is readable by others: run "
                           "chmod 600 %s",
                           path, path);
    char text[FSY_KEY_Z85_LEN + 1];
    int rc = s_read_line(path, text);
    if (rc != FSY_OK)
        return rc;
    if (strlen(text) != FSY_KEY_Z85_LEN ||
        fsy_z85_decode(id->seed, sizeof id->seed, text) != FSY_OK)
        rc = fsy_err_set(FSY_EINVAL, "%s is not a fieldsync key file", path);
    sodium_memzero(text, sizeof text);
    if (rc == FSY_OK && sodium_init() < 0)
        rc = fsy_err_set(FSY_EINTERNAL, "libsodium failed to initialise");
    if (rc == FSY_OK)
        rc = s_derive(id);
    if (rc != FSY_OK)
        fsy_identity_wipe(id);
    return rc;
}

void
fsy_identity_wipe(fsy_identity_t *id)
{
    sodium_memzero(id, sizeof *id);
}

int
fsy_public_key_parse(const char *z85, uint8_t sign_pk[32], uint8_t curve_pk[32])
{
    uint8_t pk[32], cpk[32];
    if (z85 == NULL || strlen(z85) != FSY_KEY_Z85_LEN ||
        fsy_z85_decode(pk, sizeof pk, z85) != FSY_OK)
        return fsy_err_set(FSY_EINVAL, "not a public key (40 characters of "
                                       "Z85 from a .pub file)");
    if (crypto_sign_ed25519_pk_to_curve25519(cpk, pk) != 0)
        return fsy_err_set(FSY_EINVAL, "not a valid public key");
    if (sign_pk)
        memcpy(sign_pk, pk, 32);
    if (curve_pk)
        memcpy(curve_pk, cpk, 32);
    return FSY_OK;
}
