/* dataset.c - fuzz target: the csv and idx dataset plugins on the bytes of
 * their files, opened through the registry (nn_dataset_open) and read
 * sample by sample. The first byte picks the dataset and its properties;
 * for idx the second and third give the length of the images file, the
 * rest being the labels file. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    if (!*dir) {
        strcpy(dir, "/tmp/nn-fuzz-data-XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    if (size < 1) return 0;
    static const char *const csv_words[] = {
        "", "header=1 normalize=standard", "target=0 classes=3 delimiter=;",
        "normalize=minmax target=1",
    };
    char a[96], b[96], words[512];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    const char *name;
    unsigned mode = data[0] % 6;
    if (mode < 4) {
        put(a, data + 1, size - 1);
        name = "csv";
        snprintf(words, sizeof words, "path=%s %s", a, csv_words[mode]);
    } else {
        if (size < 3) return 0;
        size_t k = (size_t)data[1] | (size_t)data[2] << 8;
        if (k > size - 3) k = size - 3;
        put(a, data + 3, k);
        put(b, data + 3 + k, size - 3 - k);
        name = "idx";
        snprintf(words, sizeof words, "images=%s labels=%s%s", a, b,
                 mode == 5 ? " classes=0" : "");
    }
    nn_dataset *d = NULL;
    char *err = NULL;
    if (nn_dataset_open(fuzz_ctx, name, words, &d, &err)) {
        fuzz_check_msg(err);
        nn_free(err);
        return 0;
    }
    (void)nn_dataset_learned(d);
    int64_t nx = 1, ny = 1;
    const nn_shape *xs = nn_dataset_input_shape(d), *ys = nn_dataset_target_shape(d);
    for (int i = 0; i < xs->ndim; i++) nx *= xs->dim[i];
    for (int i = 0; i < ys->ndim; i++) ny *= ys->dim[i];
    if (nx > 1 << 20 || ny > 1 << 20) abort(); /* a few bytes cannot imply so much */
    float *x = malloc((size_t)(nx ? nx : 1) * sizeof *x), *y = malloc((size_t)(ny ? ny : 1) * sizeof *y);
    if (!x || !y) abort();
    int64_t n = nn_dataset_len(d);
    for (int64_t i = 0; i < n && i < 256; i++)
        if (nn_dataset_get(d, i, x, y)) break;
    free(x);
    free(y);
    nn_dataset_free(d);
    return 0;
}
