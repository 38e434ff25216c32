/*
 * fuzz/replay.c — main() for a harness built without libFuzzer (plain gcc,
 * ASan+UBSan): runs each input file, or every file of each folder, once
 * through LLVMFuzzerTestOneInput. `make fuzz-replay` runs the seed corpora
 * and the regression inputs (fuzz/regress/) this way in `make test`; a
 * crash aborts with the sanitizer's report (docs/fuzzing.md).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fz.h"

static unsigned ran;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", path);
        exit(2);
    }
    if (getenv("FUZZ_REPLAY_VERBOSE"))
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    /* An allocation of exactly the input's size, as libFuzzer gives: ASan
     * then sees a read one byte past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        fprintf(stderr, "%s: out of memory\n", path);
        exit(2);
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    ran++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            run_file(argv[i]);
            continue;
        }
        struct dirent **ents;
        int n = scandir(argv[i], &ents, NULL, by_name);
        if (n < 0) {
            perror(argv[i]);
            return 2;
        }
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], ents[k]->d_name);
            if (ents[k]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode))
                run_file(path);
            free(ents[k]);
        }
        free(ents);
    }
    printf("%s: %u inputs replayed, no crash\n", argv[0], ran);
    return 0;
}
