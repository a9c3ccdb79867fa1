/*
 * fieldsync — Z85. See z85.h. Each group of 4 bytes is a big-endian 32-bit
 * number written as 5 base-85 digits, most significant first.
 */
#include <string.h>

#include "fieldsync/error.h"
#include "z85.h"

static const char s_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyz"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int
fsy_z85_encode(char *out, const uint8_t *data, size_t len)
{
    if (len % 4 != 0)
        return fsy_err_set(FSY_EINVAL, "Z85 takes groups of 4 bytes");
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = (uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
                     (uint32_t)data[i + 2] << 8 | data[i + 3];
        for (int d = 4; d >= 0; d--) {
            out[i / 4 * 5 + (size_t)d] = s_alphabet[v % 85];
            v /= 85;
        }
    }
    out[len / 4 * 5] = '\0';
    return FSY_OK;
}

int
fsy_z85_decode(uint8_t *out, size_t out_size, const char *text)
{
    size_t n = strlen(text);
    if (n % 5 != 0)
        return fsy_err_set(FSY_EINVAL, "Z85 text is in groups of 5");
    if (n / 5 * 4 > out_size)
        return fsy_err_set(FSY_EINVAL, "Z85 text longer than expected");
    for (size_t i = 0; i < n; i += 5) {
        uint64_t v = 0; /* 85^5 > 2^32: a group may overflow 32 bits */
        for (size_t d = 0; d < 5; d++) {
            const char *p =
                text[i + d] ? strchr(s_alphabet, text[i + d]) : NULL;
            if (p == NULL)
                return fsy_err_set(FSY_EINVAL, "not a Z85 character");
            v = v * 85 + (uint64_t)(p - s_alphabet);
        }
        if (v > UINT32_MAX)
            return fsy_err_set(FSY_EINVAL, "Z85 group out of range");
        for (int b = 3; b >= 0; b--) {
            out[i / 5 * 4 + (size_t)b] = (uint8_t)(v & 0xff);
            v >>= 8;
        }
    }
    return FSY_OK;
}
