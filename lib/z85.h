/*
 * fieldsync — Z85 (ZeroMQ RFC 32), the text form of keys: 4 bytes become 5
 * printable characters. The library's own, so that it does not link ZeroMQ
 * for one encoding; the text is the same as zmq_z85_encode's (check_vv).
 *
 * No allocation. Errors: FSY_EINVAL (a length not a multiple of 4 or 5, a
 * character outside the alphabet, a group over 2^32 - 1).
 */
#ifndef FSY_Z85_H
#define FSY_Z85_H

#include <stddef.h>
#include <stdint.h>

/* out receives len / 4 * 5 characters and a NUL; len % 4 == 0. */
int fsy_z85_encode(char *out, const uint8_t *data, size_t len);

/* out (out_size bytes) receives strlen(text) / 5 * 4 bytes; FSY_EINVAL if
 * strlen(text) % 5 != 0 or they would not fit. */
int fsy_z85_decode(uint8_t *out, size_t out_size, const char *text);

#endif
