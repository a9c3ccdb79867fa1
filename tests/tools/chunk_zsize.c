/*
 * chunk_zsize FILE — the bytes an attachment's chunks take on the live
 * link: each 64 KiB chunk zstd-compressed at the link's level, or raw when
 * that is smaller (as lib/wire_blob.c sends them). The scenarios compare
 * the link's bytes and time with it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <zstd.h>

#define CHUNK (64 * 1024)
#define LEVEL 3 /* FSY_MSG_ZSTD_LEVEL */

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: chunk_zsize FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    static char in[CHUNK];
    size_t cap = ZSTD_compressBound(CHUNK), n;
    char *out = malloc(cap);
    unsigned long long total = 0;
    while (out != NULL && (n = fread(in, 1, CHUNK, f)) > 0) {
        size_t z = ZSTD_compress(out, cap, in, n, LEVEL);
        total += !ZSTD_isError(z) && z < n ? z : n;
    }
    fclose(f);
    free(out);
    printf("%llu\n", total);
    return out == NULL;
}
