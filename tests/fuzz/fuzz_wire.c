/*
 * libFuzzer target: the live-sync frame decoder and its validation, the
 * first code to see bytes from a peer. Any input must decode or be refused
 * cleanly: no crash, no leak, no sanitizer report.
 */
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fsy_msg_t m;
    if (fsy_wire_decode_msg(data, size, &m) == FSY_OK)
        fsy_msg_clear(&m);
    fsy_change_list_t l = {0};
    if (fsy_wire_decode_batch(data, size, &l) == FSY_OK)
        fsy_change_list_clear(&l);
    return 0;
}
