/* test_idx.c - the datasets idx, fashion_mnist and synthetic.
 *
 * The idx tests write small IDX files themselves (raw and gzip) into a
 * temporary folder and compare every decoded value with the bytes written:
 * pixel b becomes b / 255 and a label its class index. Each bad file is
 * refused with a message that names the file and the reason. fashion_mnist
 * is checked against the known make-up of Fashion-MNIST (6000 images of
 * each class in train, 1000 in test) when the Debian package is installed.
 * synthetic is checked for repeatability, independence of the run's seed,
 * label range and the mean and spread of a standard normal. */
#define _XOPEN_SOURCE 700
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

void register_idx_tests(void);

static char g_dir[256];

static const char *path_of(const char *name)
{
    static char buf[64][512]; /* a ring: each path stays valid for 63 more calls */
    static int k;
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* Each test that writes files makes its own temporary folder. */
static void tmp_begin(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/nn-idx.XXXXXX", t && *t ? t : "/tmp");
    CU_ASSERT_FATAL(mkdtemp(g_dir) != NULL);
}

static void tmp_end(void)
{
    static const char *names[] = {"im",  "lb",  "lb2", "imt", "imx", "imh", "ime", "lbe",
                                  "lbb", "imc", "imz", "lbz", "t10k-images-idx3-ubyte.gz",
                                  "t10k-labels-idx1-ubyte.gz"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink(path_of(names[i]));
    CU_ASSERT(rmdir(g_dir) == 0);
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* Writes an IDX file: magic, ndim big-endian dims, then n body bytes; gzip
 * when gz. Returns the path. */
static const char *write_idx(const char *name, int gz, uint32_t magic, const uint32_t *dims,
                             int ndim, const unsigned char *body, size_t n)
{
    unsigned char head[16];
    put_be32(head, magic);
    for (int i = 0; i < ndim; i++) put_be32(head + 4 + 4 * i, dims[i]);
    const char *p = path_of(name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        CU_ASSERT_FATAL(f != NULL);
        CU_ASSERT(gzwrite(f, head, (unsigned)(4 + 4 * ndim)) == 4 + 4 * ndim);
        if (n) CU_ASSERT(gzwrite(f, body, (unsigned)n) == (int)n);
        CU_ASSERT(gzclose(f) == Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        CU_ASSERT_FATAL(f != NULL);
        CU_ASSERT(fwrite(head, 1, (size_t)(4 + 4 * ndim), f) == (size_t)(4 + 4 * ndim));
        if (n) CU_ASSERT(fwrite(body, 1, n, f) == n);
        CU_ASSERT(fclose(f) == 0);
    }
    return p;
}

/* Cuts a file to its first len bytes. */
static void cut(const char *p, off_t len) { CU_ASSERT(truncate(p, len) == 0); }

/* Inverts the bits of the byte at offset at. */
static void flip(const char *p, long at)
{
    FILE *f = fopen(p, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fseek(f, at, SEEK_SET) == 0);
    int c = fgetc(f);
    CU_ASSERT_FATAL(c != EOF && fseek(f, at, SEEK_SET) == 0);
    fputc(c ^ 0xff, f);
    CU_ASSERT(fclose(f) == 0);
}

/* Three 2x3 images whose bytes cover 0, 1, 127, 128, 254 and 255, and
 * their labels. */
static const unsigned char PIX[18] = {0,  1,  127, 128, 254, 255, 10, 20, 30,
                                      40, 50, 60,  200, 3,   99,  7,  255, 0};
static const unsigned char LAB[3] = {2, 0, 9};
static const uint32_t IDIMS[3] = {3, 2, 3}, LDIMS[1] = {3};

static void open_ok(const char *words, nn_dataset **d)
{
    char *err = NULL;
    nn_status st = nn_dataset_open(fx_ctx(), "idx", words, d, &err);
    if (st) fprintf(stderr, "\n  idx %s: %s\n", words, err ? err : "?");
    CU_ASSERT_FATAL(st == NN_OK);
    nn_free(err);
}

/* The samples of d are exactly PIX / 255 and LAB. */
static void check_decoded(nn_dataset *d)
{
    CU_ASSERT_EQUAL(nn_dataset_len(d), 3);
    const nn_shape *in = nn_dataset_input_shape(d), *tg = nn_dataset_target_shape(d);
    CU_ASSERT(in->ndim == 3 && in->dim[0] == 1 && in->dim[1] == 2 && in->dim[2] == 3);
    CU_ASSERT(tg->ndim == 1 && tg->dim[0] == 1);
    for (int i = 0; i < 3; i++) {
        float x[6], y[1];
        CU_ASSERT_FATAL(nn_dataset_get(d, i, x, y) == NN_OK);
        for (int k = 0; k < 6; k++) CU_ASSERT_EQUAL(x[k], (float)PIX[6 * i + k] / 255.0f);
        CU_ASSERT_EQUAL(y[0], (float)LAB[i]);
    }
    float x[6], y[1];
    CU_ASSERT(nn_dataset_get(d, 0, x, y) == NN_OK && x[0] == 0.0f && x[5] == 1.0f);
}

static void test_idx_decodes_raw_and_gzip_(void);
static void test_idx_decodes_raw_and_gzip(void)
{
    tmp_begin();
    test_idx_decodes_raw_and_gzip_();
    tmp_end();
}

static void test_idx_decodes_raw_and_gzip_(void)
{
    for (int gi = 0; gi < 2; gi++)
        for (int gl = 0; gl < 2; gl++) {
            const char *im = write_idx("im", gi, 0x803, IDIMS, 3, PIX, sizeof PIX);
            const char *lb = write_idx("lb", gl, 0x801, LDIMS, 1, LAB, sizeof LAB);
            char words[1200];
            snprintf(words, sizeof words, "images=%s labels=%s", im, lb);
            nn_dataset *d;
            open_ok(words, &d);
            check_decoded(d);
            /* batches through the loader carry the same values, in order */
            nn_loader *l;
            char *err = NULL;
            CU_ASSERT_FATAL(nn_loader_open(d, 3, NN_SHUFFLE_NONE, 0, &l, &err) == NN_OK);
            nn_tensor *bx, *by;
            CU_ASSERT_FATAL(nn_loader_next(l, &bx, &by));
            float hx[18], hy[3];
            CU_ASSERT(nn_tensor_to_host(bx, hx, 18) == NN_OK);
            CU_ASSERT(nn_tensor_to_host(by, hy, 3) == NN_OK);
            for (int k = 0; k < 18; k++) CU_ASSERT_EQUAL(hx[k], (float)PIX[k] / 255.0f);
            for (int k = 0; k < 3; k++) CU_ASSERT_EQUAL(hy[k], (float)LAB[k]);
            nn_loader_free(l);
            nn_dataset_free(d);
        }
}

/* Images of 20x15 = 300 pixels, which go 16 at a time with a tail of 12:
 * every byte value 0..255 decodes to exactly b / 255, through get and
 * through the loader's batches. */
static void test_idx_every_byte_(void);
static void test_idx_every_byte(void)
{
    tmp_begin();
    test_idx_every_byte_();
    tmp_end();
}

static void test_idx_every_byte_(void)
{
    enum { N = 3, PX = 300 };
    static unsigned char pix[N * PX];
    for (int i = 0; i < N * PX; i++) pix[i] = (unsigned char)((i * 7 + i / PX) % 256);
    static const unsigned char lab[N] = {1, 2, 3};
    static const uint32_t idims[3] = {N, 20, 15}, ldims[1] = {N};
    const char *im = write_idx("im", 1, 0x803, idims, 3, pix, sizeof pix);
    const char *lb = write_idx("lb", 0, 0x801, ldims, 1, lab, sizeof lab);
    char words[1200];
    snprintf(words, sizeof words, "images=%s labels=%s", im, lb);
    nn_dataset *d;
    open_ok(words, &d);
    static float x[N * PX];
    float y[N];
    int bad = 0;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_FATAL(nn_dataset_get(d, i, x, y) == NN_OK);
        for (int k = 0; k < PX; k++) bad += x[k] != (float)pix[i * PX + k] / 255.0f;
    }
    CU_ASSERT_EQUAL(bad, 0);
    nn_loader *l;
    char *err = NULL;
    CU_ASSERT_FATAL(nn_loader_open(d, N, NN_SHUFFLE_NONE, 0, &l, &err) == NN_OK);
    nn_tensor *bx, *by;
    CU_ASSERT_FATAL(nn_loader_next(l, &bx, &by));
    CU_ASSERT(nn_tensor_to_host(bx, x, N * PX) == NN_OK);
    for (int k = 0; k < N * PX; k++) bad += x[k] != (float)pix[k] / 255.0f;
    CU_ASSERT_EQUAL(bad, 0);
    nn_loader_free(l);
    nn_dataset_free(d);
}

static void test_idx_classes_(void);
static void test_idx_classes(void)
{
    tmp_begin();
    test_idx_classes_();
    tmp_end();
}

static void test_idx_classes_(void)
{
    static const unsigned char lab[3] = {1, 12, 4};
    const char *im = write_idx("im", 1, 0x803, IDIMS, 3, PIX, sizeof PIX);
    const char *lb = write_idx("lb", 1, 0x801, LDIMS, 1, lab, sizeof lab);
    char words[1200], *err = NULL;
    nn_dataset *d;
    /* classes=0: the largest label + 1, so 12 is in range */
    snprintf(words, sizeof words, "images=%s labels=%s classes=0", im, lb);
    open_ok(words, &d);
    float x[6], y[1];
    CU_ASSERT(nn_dataset_get(d, 1, x, y) == NN_OK && y[0] == 12.0f);
    nn_dataset_free(d);
    /* the default 10 classes: label 12 (row 1) is refused */
    snprintf(words, sizeof words, "images=%s labels=%s", im, lb);
    CU_ASSERT(nn_dataset_open(fx_ctx(), "idx", words, &d, &err) == NN_FORMAT);
    CU_ASSERT(err && strstr(err, lb) && strstr(err, "row 1: label 12 outside the classes 0..9"));
    nn_free(err);
}

/* Opening idx on these files fails with a message holding `file` and `why`. */
static void refused(const char *im, const char *lb, const char *file, const char *why)
{
    char words[1200], *err = NULL;
    nn_dataset *d = NULL;
    snprintf(words, sizeof words, "images=%s labels=%s", im, lb);
    nn_status st = nn_dataset_open(fx_ctx(), "idx", words, &d, &err);
    CU_ASSERT(st != NN_OK && d == NULL);
    /* one line, the file named once */
    const char *at = err ? strstr(err, file) : NULL;
    int ok = at && !strstr(at + 1, file) && strstr(err, why) && !strchr(err, '\n');
    if (!ok) fprintf(stderr, "\n  expected '%s' about %s, got: %s\n", why, file, err ? err : "?");
    CU_ASSERT(ok);
    nn_free(err);
}

static void test_idx_refusals_(void);
static void test_idx_refusals(void)
{
    tmp_begin();
    test_idx_refusals_();
    tmp_end();
}

static void test_idx_refusals_(void)
{
    for (int gz = 0; gz < 2; gz++) {
        const char *im = write_idx("im", gz, 0x803, IDIMS, 3, PIX, sizeof PIX);
        const char *lb = write_idx("lb", gz, 0x801, LDIMS, 1, LAB, sizeof LAB);
        /* files swapped: wrong magic */
        refused(lb, im, lb, "wrong magic number 0x00000801");
        /* counts that disagree */
        static const uint32_t two[1] = {2};
        const char *lb2 = write_idx("lb2", gz, 0x801, two, 1, LAB, 2);
        refused(im, lb2, "has 3 images but", "has 2 labels");
        /* a truncated body: 17 of 18 pixels */
        const char *imt = write_idx("imt", gz, 0x803, IDIMS, 3, PIX, sizeof PIX - 1);
        refused(imt, lb, imt, "truncated: 17 of the 18 bytes");
        /* more data than the header says */
        const char *imx = write_idx("imx", gz, 0x803, IDIMS, 3, PIX, sizeof PIX);
        static const uint32_t fewer[3] = {2, 2, 3};
        imx = write_idx("imx", gz, 0x803, fewer, 3, PIX, sizeof PIX);
        refused(imx, lb, imx, "more data than the header");
        /* absurd sizes, refused from the header alone */
        static const uint32_t huge[3] = {0xffffffffu, 28, 28};
        const char *imh = write_idx("imh", gz, 0x803, huge, 3, PIX, sizeof PIX);
        refused(imh, lb, imh, "absurd size in the header: count 4294967295");
        static const uint32_t wide[3] = {3, 2, 100000};
        imh = write_idx("imh", gz, 0x803, wide, 3, PIX, sizeof PIX);
        refused(imh, lb, imh, "absurd size in the header: cols 100000");
        static const uint32_t big[3] = {100000000, 4000, 4000};
        imh = write_idx("imh", gz, 0x803, big, 3, PIX, sizeof PIX);
        refused(imh, lb, imh, "absurd size in the header: 1600000000000000 bytes");
        /* a header promising 2^31 bytes over 18 real ones: refused as
         * truncated, having allocated only as the data arrived */
        static const uint32_t lie[3] = {8192, 512, 512};
        imh = write_idx("imh", gz, 0x803, lie, 3, PIX, sizeof PIX);
        refused(imh, lb, imh, "truncated: 18 of the 2147483648 bytes");
        /* an empty dataset */
        static const uint32_t none[3] = {0, 2, 3}, nol[1] = {0};
        const char *ime = write_idx("ime", gz, 0x803, none, 3, PIX, 0);
        const char *lbe = write_idx("lbe", gz, 0x801, nol, 1, LAB, 0);
        refused(ime, lbe, ime, "empty: the header says count 0");
        /* a label outside the classes */
        static const unsigned char bad[3] = {2, 0, 10};
        const char *lbb = write_idx("lbb", gz, 0x801, LDIMS, 1, bad, 3);
        refused(im, lbb, lbb, "row 2: label 10 outside the classes 0..9");
        /* a header cut short */
        const char *imc = write_idx("imc", 0, 0x803, IDIMS, 3, PIX, 0);
        cut(imc, 9);
        refused(imc, lb, imc, "truncated header (9 of 16 bytes)");
        cut(imc, 2);
        refused(imc, lb, imc, "not an IDX file");
        /* a missing file */
        refused(path_of("absent"), lb, path_of("absent"), "No such file or directory");
    }
    /* a gzip stream cut in the middle */
    unsigned char many[3000];
    for (int i = 0; i < 3000; i++) many[i] = (unsigned char)(i * 7919 % 251);
    static const uint32_t d1000[3] = {1000, 1, 3}, l1000[1] = {1000};
    const char *im = write_idx("imz", 1, 0x803, d1000, 3, many, sizeof many);
    const char *lb = write_idx("lbz", 1, 0x801, l1000, 1, many, 1000);
    struct stat sb;
    CU_ASSERT_FATAL(stat(im, &sb) == 0);
    /* a damaged checksum (the trailer's CRC-32), then damaged data */
    flip(im, sb.st_size - 8);
    refused(im, lb, im, "incorrect data check");
    flip(im, sb.st_size - 8);
    flip(im, sb.st_size / 2);
    flip(im, sb.st_size / 2 + 1);
    refused(im, lb, im, ""); /* zlib's reason depends on the damage */
    cut(im, sb.st_size / 2);
    refused(im, lb, im, "truncated");
}

static void test_fashion_mnist(void)
{
    {
        nn_dataset *d;
        char *err = NULL;
        CU_ASSERT(nn_dataset_open(fx_ctx(), "fashion_mnist", "root=/nonexistent", &d, &err) ==
                  NN_NOT_FOUND);
        CU_ASSERT(err && strstr(err, "/nonexistent/train-images-idx3-ubyte.gz") &&
                  strstr(err, "apt-get install dataset-fashion-mnist"));
        nn_free(err);
    }
    struct stat sb;
    if (stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", &sb) != 0) {
        fprintf(stderr, "\n  skipped: no dataset-fashion-mnist package ");
        return;
    }
    static const char *splits[2] = {"split=train", "split=test"};
    static const int64_t len[2] = {60000, 10000};
    for (int s = 0; s < 2; s++) {
        nn_dataset *d;
        char *err = NULL;
        CU_ASSERT_FATAL(nn_dataset_open(fx_ctx(), "fashion_mnist", splits[s], &d, &err) == NN_OK);
        CU_ASSERT_EQUAL(nn_dataset_len(d), len[s]);
        const nn_shape *in = nn_dataset_input_shape(d);
        CU_ASSERT(in->ndim == 3 && in->dim[0] == 1 && in->dim[1] == 28 && in->dim[2] == 28);
        int64_t count[10] = {0};
        float x[784], y[1], lo = 1, hi = 0;
        for (int64_t i = 0; i < len[s]; i++) {
            CU_ASSERT_FATAL(nn_dataset_get(d, i, x, y) == NN_OK);
            CU_ASSERT_FATAL(y[0] >= 0 && y[0] <= 9 && y[0] == floorf(y[0]));
            count[(int)y[0]]++;
            for (int k = 0; k < 784; k++) {
                if (x[k] < lo) lo = x[k];
                if (x[k] > hi) hi = x[k];
            }
        }
        for (int c = 0; c < 10; c++) CU_ASSERT_EQUAL(count[c], len[s] / 10);
        CU_ASSERT(lo == 0.0f && hi == 1.0f);
        nn_dataset_free(d);
    }
}

static void test_fashion_mnist_root_(void);
static void test_fashion_mnist_root(void)
{
    tmp_begin();
    test_fashion_mnist_root_();
    tmp_end();
}

static void test_fashion_mnist_root_(void)
{
    /* root= opens the four Debian file names in another folder */
    write_idx("t10k-images-idx3-ubyte.gz", 1, 0x803, IDIMS, 3, PIX, sizeof PIX);
    write_idx("t10k-labels-idx1-ubyte.gz", 1, 0x801, LDIMS, 1, LAB, sizeof LAB);
    char words[600], *err = NULL;
    snprintf(words, sizeof words, "split=test root=%s", g_dir);
    nn_dataset *d;
    CU_ASSERT_FATAL(nn_dataset_open(fx_ctx(), "fashion_mnist", words, &d, &err) == NN_OK);
    check_decoded(d);
    nn_dataset_free(d);
}

/* n samples of synthetic with these words on a context seeded ctx_seed. */
static float *synth(const char *words, uint32_t ctx_seed, int64_t n, int64_t numel, float **y)
{
    nn_ctx *ctx;
    nn_dataset *d;
    char *err = NULL;
    CU_ASSERT_FATAL(nn_ctx_open(g_reg, "cpu", ctx_seed, &ctx, &err) == NN_OK);
    CU_ASSERT_FATAL(nn_dataset_open(ctx, "synthetic", words, &d, &err) == NN_OK);
    CU_ASSERT_FATAL(nn_dataset_len(d) == n && nn_shape_numel(nn_dataset_input_shape(d)) == numel);
    float *x = malloc((size_t)(n * numel) * sizeof *x);
    *y = malloc((size_t)n * sizeof **y);
    CU_ASSERT_FATAL(x && *y);
    for (int64_t i = 0; i < n; i++)
        CU_ASSERT_FATAL(nn_dataset_get(d, i, x + i * numel, *y + i) == NN_OK);
    nn_dataset_free(d);
    nn_ctx_free(ctx);
    return x;
}

static void test_synthetic(void)
{
    const int64_t n = 2000, numel = 1 * 5 * 3;
    float *y1, *y2, *y3;
    float *x1 = synth("n=2000 shape=1,5,3 classes=7 seed=11", 1, n, numel, &y1);
    float *x2 = synth("n=2000 shape=1,5,3 classes=7 seed=11", 99, n, numel, &y2);
    float *x3 = synth("n=2000 shape=1,5,3 classes=7 seed=12", 1, n, numel, &y3);
    /* the seed decides, not the run's */
    CU_ASSERT(memcmp(x1, x2, (size_t)(n * numel) * sizeof *x1) == 0);
    CU_ASSERT(memcmp(y1, y2, (size_t)n * sizeof *y1) == 0);
    CU_ASSERT(memcmp(x1, x3, (size_t)(n * numel) * sizeof *x1) != 0);
    /* labels: integers 0..6, every class present */
    int seen[7] = {0};
    for (int64_t i = 0; i < n; i++) {
        CU_ASSERT_FATAL(y1[i] >= 0 && y1[i] <= 6 && y1[i] == floorf(y1[i]));
        seen[(int)y1[i]]++;
    }
    for (int c = 0; c < 7; c++) CU_ASSERT(seen[c] > 200); /* about 286 each */
    /* values: standard normal; 30000 of them give a mean within 0.02 and a
     * standard deviation within 0.02 of 1 (5 standard errors) */
    double s = 0, s2 = 0;
    int64_t m = n * numel, beyond3 = 0;
    for (int64_t k = 0; k < m; k++) {
        s += x1[k];
        s2 += (double)x1[k] * x1[k];
        if (fabsf(x1[k]) > 3) beyond3++;
    }
    double mean = s / (double)m, sd = sqrt(s2 / (double)m - mean * mean);
    CU_ASSERT(fabs(mean) < 0.03);
    CU_ASSERT(fabs(sd - 1) < 0.03);
    CU_ASSERT(beyond3 > 20 && beyond3 < 140); /* 0.27 %: about 81 */
    free(x1), free(x2), free(x3), free(y1), free(y2), free(y3);
    /* a flat shape, and an odd number of values per sample */
    float *yy, *xx = synth("n=3 shape=7", 1, 3, 7, &yy);
    free(xx), free(yy);
}

static void test_synthetic_refusals(void)
{
    static const char *bad[] = {"shape=", "shape=1,,2", "shape=0,3", "shape=2,x", "shape=-1",
                                "shape=1,2,3,4,5,6,7,8", "n=100000000 shape=1,28,28"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        nn_dataset *d = NULL;
        char *err = NULL;
        CU_ASSERT(nn_dataset_open(fx_ctx(), "synthetic", bad[i], &d, &err) != NN_OK && !d);
        CU_ASSERT(err && strstr(err, "synthetic: "));
        nn_free(err);
    }
}

void register_idx_tests(void)
{
    CU_pSuite s = fx_add_suite("idx");
    FX_ADD(s, test_synthetic);
    FX_ADD(s, test_synthetic_refusals);
    FX_ADD(s, test_idx_decodes_raw_and_gzip);
    FX_ADD(s, test_idx_every_byte);
    FX_ADD(s, test_idx_classes);
    FX_ADD(s, test_idx_refusals);
    FX_ADD(s, test_fashion_mnist_root);
    FX_ADD(s, test_fashion_mnist);
}
