/* idx.c - MNIST-format (IDX) image classification data, and the Fashion-MNIST
 * files of the Debian package dataset-fashion-mnist as a shortcut.
 *
 *   idx images=FILE labels=FILE [classes=N]
 *   fashion_mnist split=train|test [root=DIR]
 *
 * IDX files (yann.lecun.com/exdb/mnist): a big-endian magic 0x00000803 with
 * image count, rows and cols, then count*rows*cols unsigned bytes; labels:
 * magic 0x00000801 with a count, then one byte per image. Either file may be
 * gzip-compressed or raw (zlib reads both; libdeflate, where the build has
 * it, inflates a whole well-formed gzip file first, about twice as fast).
 * Both are read and checked once, when the dataset opens; get and get_batch
 * only copy.
 *
 * input: [1, rows, cols], pixels scaled to [0, 1] (byte / 255)
 * target: [1], the class index as a float, in 0..classes-1 */
#include <nn/plugin.h>
#include "../devices/clones.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zlib.h>
#ifdef NN_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
/* Sizes no IDX file of images for this loader has: refused before anything
 * is allocated for them. */
#define IDX_MAX_COUNT 100000000LL /* images */
#define IDX_MAX_SIDE 4096LL       /* rows or cols */
#define IDX_MAX_BYTES (1LL << 32) /* pixels in all */
#define IDX_CHUNK (1u << 20)

#define FASHION_ROOT "/usr/share/datasets/fashion-mnist"
#define FASHION_PACKAGE "dataset-fashion-mnist"

/* Memory that holds a file's data: mapped (len bytes) or malloc'd (len 0). */
typedef struct {
    uint8_t *p;
    size_t len;
} idx_block;

#ifdef NN_HAVE_LIBDEFLATE
/* n bytes of fresh memory; with populate, mapped with its pages made at
 * once where the system can (MAP_POPULATE: one call, not a page fault per
 * 4 KiB: loading Fashion-MNIST's training set 110 -> 103 ms), else
 * malloc'd, its pages made as they are written. */
static idx_block block_alloc(size_t n, int populate)
{
#if defined(MAP_ANONYMOUS) && defined(MAP_POPULATE)
    if (populate) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p != MAP_FAILED) return (idx_block){p, n};
    }
#endif
    (void)populate;
    return (idx_block){malloc(n), 0};
}
#endif

static void block_free(idx_block *b)
{
    if (b->len) munmap(b->p, b->len);
    else free(b->p);
    *b = (idx_block){NULL, 0};
}

typedef struct {
    int64_t n, rows, cols;
    int classes;
    uint8_t *pixels; /* n * rows * cols */
    uint8_t *labels; /* n */
    idx_block pixels_block, labels_block; /* what to free: each holds its data */
} idx_data;

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads up to len bytes; returns how many, or -1 with a reason in *why. */
static int64_t read_bytes(gzFile f, void *buf, int64_t len, const char **why)
{
    int64_t got = 0;
    while (got < len) {
        int64_t want = len - got < IDX_CHUNK ? len - got : IDX_CHUNK;
        int r = gzread(f, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int code;
            *why = gzerror(f, &code);
            if (code == Z_ERRNO) *why = strerror(errno);
            return -1;
        }
        if (r == 0) break;
        got += r;
    }
    /* A gzip stream cut short ends in an error, not at end of file. */
    int code;
    const char *msg = gzerror(f, &code);
    if (got < len && code != Z_OK && code != Z_BUF_ERROR) {
        *why = code == Z_ERRNO ? strerror(errno) : msg;
        return -1;
    }
    return got;
}

/* zlib's messages start with the file's name: drop it, the caller adds it. */
static const char *bare(const char *path, const char *why)
{
    size_t n = strlen(path);
    return strncmp(why, path, n) == 0 && strncmp(why + n, ": ", 2) == 0 ? why + n + 2 : why;
}

#ifdef NN_HAVE_LIBDEFLATE
static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* The file whole, when it is one gzip member whose content is an IDX file
 * of this magic, every size within bounds and the body exactly as long as
 * the header says: 1 with *block (to free) and *body within it. 0 for
 * anything else, raw or damaged, having kept nothing: the stream reader
 * then reads the file and says what is wrong with it. */
static int read_whole(const char *path, uint32_t magic, int ndim, int64_t *dims,
                      idx_block *block, uint8_t **body)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    struct stat sb;
    idx_block in = {NULL, 0}, out = {NULL, 0};
    int ok = 0;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || sb.st_size < 18 ||
        sb.st_size > IDX_MAX_BYTES)
        goto done;
    size_t n = (size_t)sb.st_size;
    in = block_alloc(n, 1);
    if (!in.p || fread(in.p, 1, n, f) != n || in.p[0] != 0x1f || in.p[1] != 0x8b) goto done;
    /* a single member's trailer: the content's size, mod 2^32; deflate
     * expands at most 1032 times, so a larger one is a lie, not allocated;
     * pages are made ahead only for what images compress to (a sixteenth
     * or more), so a lie below that bound costs only what is written */
    size_t want = le32(in.p + n - 4), hlen = 4 + 4 * (size_t)ndim, got = 0, used = 0;
    if (want < hlen || (int64_t)want > IDX_MAX_BYTES + (int64_t)hlen || want / 1032 > n ||
        !(out = block_alloc(want, want / 16 <= n)).p)
        goto done;
    struct libdeflate_decompressor *z = libdeflate_alloc_decompressor();
    if (!z) goto done;
    enum libdeflate_result r = libdeflate_gzip_decompress_ex(z, in.p, n, out.p, want, &used, &got);
    libdeflate_free_decompressor(z);
    if (r != LIBDEFLATE_SUCCESS || used != n || got != want || be32(out.p) != magic) goto done;
    int64_t size = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(out.p + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > (i == 0 ? IDX_MAX_COUNT : IDX_MAX_SIDE)) goto done;
        size *= dims[i];
    }
    ok = size <= IDX_MAX_BYTES && (size_t)size == want - hlen;
    if (ok) *block = out, *body = out.p + hlen, out = (idx_block){NULL, 0};
done:
    block_free(&in);
    block_free(&out);
    fclose(f);
    return ok;
}
#endif

/* Reads an IDX file: its header (magic and dims) and a body of `body`
 * bytes, which it allocates as the data arrives, so a header that lies
 * about the size of a short file never makes a large allocation. *out is
 * the body, *block what to free. */
static nn_status read_idx(const char *path, uint32_t magic, int ndim, int64_t *dims,
                          idx_block *block, uint8_t **out, char **err)
{
    *block = (idx_block){NULL, 0};
    *out = NULL;
#ifdef NN_HAVE_LIBDEFLATE
    if (read_whole(path, magic, ndim, dims, block, out)) return NN_OK;
#endif
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return nn_fail(err, NN_IO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    gzbuffer(f, 1 << 17);
    unsigned char head[4 + 4 * 3];
    const char *why = NULL;
    int64_t hlen = 4 + 4 * (int64_t)ndim;
    int64_t got = read_bytes(f, head, hlen, &why);
    nn_status st = NN_OK;
    if (got < 0) {
        st = nn_fail(err, NN_IO, "%s: %s", path, bare(path, why));
        goto done;
    }
    if (got < 4) {
        st = nn_fail(err, NN_FORMAT, "%s: not an IDX file (shorter than its magic number)", path);
        goto done;
    }
    if (be32(head) != magic) {
        st = nn_fail(err, NN_FORMAT,
                     "%s: wrong magic number 0x%08x (IDX %s have 0x%08x)", path, be32(head),
                     magic == IDX_MAGIC_IMAGES ? "images" : "labels", magic);
        goto done;
    }
    if (got < hlen) {
        st = nn_fail(err, NN_FORMAT, "%s: truncated header (%lld of %lld bytes)", path,
                     (long long)got, (long long)hlen);
        goto done;
    }
    int64_t body = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(head + 4 + 4 * i);
        int64_t max = i == 0 ? IDX_MAX_COUNT : IDX_MAX_SIDE;
        if (dims[i] > max) {
            st = nn_fail(err, NN_FORMAT, "%s: absurd size in the header: %s %lld (at most %lld)",
                         path, i == 0 ? "count" : i == 1 ? "rows" : "cols", (long long)dims[i],
                         (long long)max);
            goto done;
        }
        if (dims[i] == 0) {
            st = nn_fail(err, NN_FORMAT, "%s: empty: the header says %s 0", path,
                         i == 0 ? "count" : i == 1 ? "rows" : "cols");
            goto done;
        }
        body *= dims[i];
    }
    if (body > IDX_MAX_BYTES) {
        st = nn_fail(err, NN_FORMAT, "%s: absurd size in the header: %lld bytes of data", path,
                     (long long)body);
        goto done;
    }
    uint8_t *buf = NULL;
    int64_t have = 0, cap = 0;
    while (have < body) {
        if (have == cap) {
            int64_t ncap = cap ? cap * 2 : IDX_CHUNK;
            if (ncap > body) ncap = body;
            uint8_t *nb = realloc(buf, (size_t)ncap);
            if (!nb) {
                free(buf);
                st = nn_fail(err, NN_NO_MEMORY, "%s: out of memory for %lld bytes", path,
                             (long long)body);
                goto done;
            }
            buf = nb;
            cap = ncap;
        }
        int64_t r = read_bytes(f, buf + have, cap - have, &why);
        if (r < 0) {
            free(buf);
            st = nn_fail(err, NN_IO, "%s: %s", path, bare(path, why));
            goto done;
        }
        have += r;
        if (have < cap) break;
    }
    if (have < body) {
        free(buf);
        st = nn_fail(err, NN_FORMAT, "%s: truncated: %lld of the %lld bytes the header promises",
                     path, (long long)have, (long long)body);
        goto done;
    }
    /* Past the body: the end of the file, where a gzip stream's checksum
     * is verified. */
    unsigned char extra;
    int64_t r = read_bytes(f, &extra, 1, &why);
    if (r != 0) {
        free(buf);
        st = r < 0 ? nn_fail(err, NN_IO, "%s: %s", path, bare(path, why))
                   : nn_fail(err, NN_FORMAT, "%s: more data than the header's %lld bytes", path,
                             (long long)body);
        goto done;
    }
    *block = (idx_block){buf, 0};
    *out = buf;
done:
    gzclose(f);
    return st;
}

static void idx_free(idx_data *d)
{
    if (!d) return;
    block_free(&d->pixels_block);
    block_free(&d->labels_block);
    free(d);
}

static nn_status idx_load(const char *images, const char *labels, int classes, void **priv,
                          int64_t *len, nn_shape *input, nn_shape *target, char **err)
{
    idx_data *d = calloc(1, sizeof *d);
    if (!d) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    int64_t idims[3], ldims[1];
    nn_status st = read_idx(images, IDX_MAGIC_IMAGES, 3, idims, &d->pixels_block, &d->pixels, err);
    if (!st) st = read_idx(labels, IDX_MAGIC_LABELS, 1, ldims, &d->labels_block, &d->labels, err);
    if (st) {
        idx_free(d);
        return st;
    }
    if (idims[0] != ldims[0]) {
        idx_free(d);
        return nn_fail(err, NN_FORMAT, "%s has %lld images but %s has %lld labels", images,
                       (long long)idims[0], labels, (long long)ldims[0]);
    }
    d->n = idims[0];
    d->rows = idims[1];
    d->cols = idims[2];
    int top = 0;
    for (int64_t i = 0; i < d->n; i++)
        if (d->labels[i] > top) top = d->labels[i];
    d->classes = classes ? classes : top + 1;
    for (int64_t i = 0; i < d->n; i++)
        if (d->labels[i] >= d->classes) {
            int c = d->classes;
            long long bad = d->labels[i];
            idx_free(d);
            return nn_fail(err, NN_FORMAT, "%s: row %lld: label %lld outside the classes 0..%d",
                           labels, (long long)i, bad, c - 1);
        }
    *priv = d;
    *len = d->n;
    *input = (nn_shape){3, {1, d->rows, d->cols}};
    *target = (nn_shape){1, {1}};
    return NN_OK;
}

static void idx_close(void *priv) { idx_free(priv); }

/* x[0..n) = the pixels src[0..n) / 255, a division each (a product by 1/255
 * would differ in the last bit for half of them). */
NN_VEC_FN(void, scale_pixels_loop, (const uint8_t *restrict src, float *restrict x, int64_t n),
          (src, x, n))
{
    int64_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int l = 0; l < 16; l++) x[k + l] = (float)src[k + l] / 255.0f;
    for (; k < n; k++) x[k] = (float)src[k] / 255.0f;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* The same quotients 16 at a time, without dividing: q = b * (1/255),
 * then one step of correction by its remainder, b - 255 q, exact in a fused
 * multiply-add, gives b / 255 rounded as the division rounds it, for each
 * of the 256 bytes (test_idx.c checks them all). The compiler's loop made
 * 4 vectors of 4 and 4 divisions, 41 us a batch of 64 images here; 16
 * divisions at a time took 5.1, this 2.9 (the rows in the cache). */
__attribute__((target("avx512f"))) static void scale_pixels_avx512(const uint8_t *restrict src,
                                                                   float *restrict x, int64_t n)
{
    const __m512 r = _mm512_set1_ps(1.0f / 255.0f), d = _mm512_set1_ps(255.0f);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + k));
        __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)), q = _mm512_mul_ps(v, r);
        _mm512_storeu_ps(x + k, _mm512_fmadd_ps(_mm512_fnmadd_ps(q, d, v), r, q));
    }
    for (; k < n; k++) x[k] = (float)src[k] / 255.0f;
}
#endif

static void scale_pixels(const uint8_t *restrict src, float *restrict x, int64_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (nn_vec_avx512()) {
        scale_pixels_avx512(src, x, n);
        return;
    }
#endif
    scale_pixels_loop(src, x, n);
}

static void prefetch_row(const uint8_t *row, int64_t bytes)
{
    for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(row + o);
    __builtin_prefetch(row + bytes - 1);
}

static void idx_copy(const idx_data *d, int64_t i, float *x, float *y)
{
    int64_t px = d->rows * d->cols;
    scale_pixels(d->pixels + i * px, x, px);
    y[0] = (float)d->labels[i];
}

static nn_status idx_get(void *priv, int64_t i, float *x, float *y, char **err)
{
    (void)err; /* everything is in memory: reading one cannot fail */
    idx_copy(priv, i, x, y);
    return NN_OK;
}

static nn_status idx_get_batch(void *priv, const int64_t *idx, int64_t n, float *x, float *y,
                               char **err)
{
    (void)err;
    const idx_data *d = priv;
    int64_t px = d->rows * d->cols;
    /* The rows of a shuffled batch are far apart in a set larger than the
     * caches: asked for a few rows ahead, the memory fetches them together
     * instead of one row's misses after another's. */
    enum { AHEAD = 4 };
    for (int64_t k = 0; k < n && k < AHEAD; k++) prefetch_row(d->pixels + idx[k] * px, px);
    for (int64_t k = 0; k < n; k++) {
        if (k + AHEAD < n) prefetch_row(d->pixels + idx[k + AHEAD] * px, px);
        idx_copy(d, idx[k], x + k * px, y + k);
    }
    return NN_OK;
}

/* ---- idx ------------------------------------------------------------------ */

enum { P_IMAGES, P_LABELS, P_CLASSES };

static const nn_prop_def idx_props[] = {
    [P_IMAGES] = {"images", NN_PROP_STRING, NULL, 1, 0, NULL,
                  "IDX file of images (magic 0x00000803), raw or gzip"},
    [P_LABELS] = {"labels", NN_PROP_STRING, NULL, 1, 0, NULL,
                  "IDX file of labels (magic 0x00000801), raw or gzip"},
    [P_CLASSES] = {"classes", NN_PROP_INT, "10", 0, 256, NULL,
                   "number of classes; labels must be below it (0: the largest label + 1)"},
};

static nn_status idx_open(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                          nn_shape *target, char **err)
{
    return idx_load(nn_props_string(p, P_IMAGES), nn_props_string(p, P_LABELS),
                    (int)nn_props_int(p, P_CLASSES), priv, len, input, target, err);
}

/* ---- fashion_mnist ---------------------------------------------------------- */

enum { F_SPLIT, F_ROOT };

static const nn_prop_def fashion_props[] = {
    [F_SPLIT] = {"split", NN_PROP_ENUM, "train", 1, 0, "train|test",
                 "train: 60000 images, test: 10000"},
    [F_ROOT] = {"root", NN_PROP_STRING, FASHION_ROOT, 1, 0, NULL,
                "folder of the four *-idx?-ubyte.gz files"},
};

static nn_status fashion_open(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                              nn_shape *target, char **err)
{
    const char *root = nn_props_string(p, F_ROOT);
    const char *pre = strcmp(nn_props_string(p, F_SPLIT), "test") == 0 ? "t10k" : "train";
    size_t n = strlen(root) + 40;
    char *images = malloc(n), *labels = malloc(n);
    if (!images || !labels) {
        free(images);
        free(labels);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    snprintf(images, n, "%s/%s-images-idx3-ubyte.gz", root, pre);
    snprintf(labels, n, "%s/%s-labels-idx1-ubyte.gz", root, pre);
    nn_status st;
    FILE *probe = fopen(images, "rb");
    if (!probe && errno == ENOENT) {
        st = nn_fail(err, NN_NOT_FOUND, "%s: not found (on Debian: apt-get install %s)", images,
                     FASHION_PACKAGE);
    } else {
        if (probe) fclose(probe);
        st = idx_load(images, labels, 10, priv, len, input, target, err);
    }
    free(images);
    free(labels);
    return st;
}

static const nn_dataset_vt idx_vt = {
    NN_VT_HEADER(nn_dataset_vt),
    .open = idx_open,
    .close = idx_close,
    .get = idx_get,
    .get_batch = idx_get_batch,
    .flags = NN_DATASET_BATCH_THREADS, /* get_batch reads the loaded files only */
};

static const nn_dataset_vt fashion_vt = {
    NN_VT_HEADER(nn_dataset_vt),
    .open = fashion_open,
    .close = idx_close,
    .get = idx_get,
    .get_batch = idx_get_batch,
    .flags = NN_DATASET_BATCH_THREADS, /* get_batch reads the loaded files only */
};

static const nn_component_def idx_components[] = {
    {NN_KIND_DATASET, "idx", "MNIST-format (IDX) images and labels, raw or gzip", &idx_vt,
     idx_props, NN_COUNT_OF(idx_props)},
    {NN_KIND_DATASET, "fashion_mnist", "Fashion-MNIST from the Debian package " FASHION_PACKAGE,
     &fashion_vt, fashion_props, NN_COUNT_OF(fashion_props)},
};

NN_PLUGIN_DEFINE("idx", "1.0", idx_components)
