/* test_csv.c - the csv dataset through nn_dataset_open: decoded values, the
 * normalization statistics (computed here from the same numbers), the words
 * it learned, and reopening with them. */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

/* Each test's own folder, removed with its files at the end. */
static void tmp_open(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/nn-csv.XXXXXX", t && *t && strlen(t) < 40 ? t : "/tmp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static void tmp_close(void)
{
    static const char *const names[] = {"a.csv", "b.csv", "s.csv", "s2.csv", "m.csv"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    CU_ASSERT_EQUAL(rmdir(dir), 0);
}

/* Writes text into DIR/name; the spec "path=DIR/name REST" into spec. */
static void write_csv(const char *name, const char *text, const char *rest, char *spec,
                      size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    snprintf(spec, len, "path=%s %s", path, rest);
}

static nn_dataset *open_csv(const char *spec)
{
    nn_dataset *d = NULL;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(fx_ctx(), "csv", spec, &d, &err), err);
    nn_free(err);
    return d;
}

/* The n x 2 features and the n targets of d, with their count checked. */
static void samples(nn_dataset *d, int64_t n, float *x, float *y)
{
    CU_ASSERT_EQUAL_FATAL(nn_dataset_len(d), n);
    CU_ASSERT_EQUAL_FATAL(nn_dataset_input_shape(d)->ndim, 1);
    CU_ASSERT_EQUAL_FATAL(nn_dataset_input_shape(d)->dim[0], 2);
    CU_ASSERT_EQUAL_FATAL(nn_dataset_target_shape(d)->dim[0], 1);
    for (int64_t i = 0; i < n; i++) CU_ASSERT_EQUAL(nn_dataset_get(d, i, x + 2 * i, y + i), NN_OK);
}

static void test_csv_decode(void)
{
    tmp_open();
    char spec[256];
    float x[6], y[3];
    write_csv("a.csv", "h1;h2;h3\n1;0.25;1e1\r\n  \n0; -3 ;2.5E-1\n1;7;-0.5", "header=1 delimiter=; target=0",
              spec, sizeof spec);
    nn_dataset *d = open_csv(spec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    samples(d, 3, x, y);
    const float wx[6] = {0.25f, 10, -3, 0.25f, 7, -0.5f}, wy[3] = {1, 0, 1};
    CU_ASSERT_EQUAL(memcmp(x, wx, sizeof x), 0);
    CU_ASSERT_EQUAL(memcmp(y, wy, sizeof y), 0);
    CU_ASSERT_STRING_EQUAL(nn_dataset_learned(d), "classes=2");
    nn_dataset_free(d);

    /* the target in the middle, counted from the end; a regression target */
    write_csv("b.csv", "1,0.5,2\n3,-1.5,4\n", "target=-2", spec, sizeof spec);
    d = open_csv(spec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    samples(d, 2, x, y);
    const float bx[4] = {1, 2, 3, 4}, by[2] = {0.5f, -1.5f};
    CU_ASSERT_EQUAL(memcmp(x, bx, sizeof bx), 0);
    CU_ASSERT_EQUAL(memcmp(y, by, sizeof by), 0);
    CU_ASSERT_STRING_EQUAL(nn_dataset_learned(d), "");
    nn_dataset_free(d);
    tmp_close();
}

static const double raw[4][2] = {{1, 100}, {2, 250}, {4, -50}, {8.5, 0.125}};
static const char raw_text[] = "1,100,0\n2,250,1\n4,-50,2\n8.5,0.125,1\n";

static void test_csv_standard(void)
{
    tmp_open();
    double mean[2], sd[2];
    for (int j = 0; j < 2; j++) { /* population mean and std, as numpy's */
        double s = 0, q = 0;
        for (int i = 0; i < 4; i++) s += raw[i][j];
        mean[j] = s / 4;
        for (int i = 0; i < 4; i++) q += (raw[i][j] - mean[j]) * (raw[i][j] - mean[j]);
        sd[j] = sqrt(q / 4);
    }
    char spec[256];
    float x[8], y[4];
    write_csv("s.csv", raw_text, "normalize=standard", spec, sizeof spec);
    nn_dataset *d = open_csv(spec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    samples(d, 4, x, y);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            CU_ASSERT_EQUAL(x[2 * i + j], (float)((raw[i][j] - mean[j]) / sd[j]));
    /* the learned words read back as the same doubles */
    const char *w = nn_dataset_learned(d);
    double m0, m1, s0, s1;
    CU_ASSERT_EQUAL_FATAL(sscanf(w, "classes=3 normalize=standard mean=%lf,%lf std=%lf,%lf", &m0,
                                 &m1, &s0, &s1), 4);
    CU_ASSERT(m0 == mean[0] && m1 == mean[1] && s0 == sd[0] && s1 == sd[1]);
    /* another file opened with them: scaled by the first file's statistics */
    char spec2[512];
    write_csv("s2.csv", "3,10,0\n", "", spec2, sizeof spec2);
    snprintf(spec2 + strlen(spec2), sizeof spec2 - strlen(spec2), " %s", w);
    nn_dataset *d2 = open_csv(spec2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d2);
    float x2[2], y2[1];
    samples(d2, 1, x2, y2);
    CU_ASSERT_EQUAL(x2[0], (float)((3 - mean[0]) / sd[0]));
    CU_ASSERT_EQUAL(x2[1], (float)((10 - mean[1]) / sd[1]));
    CU_ASSERT_STRING_EQUAL(nn_dataset_learned(d2), w); /* the same words again */
    nn_dataset_free(d2);
    nn_dataset_free(d);
    tmp_close();
}

static void test_csv_minmax(void)
{
    tmp_open();
    char spec[256];
    float x[8], y[4];
    write_csv("m.csv", raw_text, "normalize=minmax classes=5", spec, sizeof spec);
    nn_dataset *d = open_csv(spec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    samples(d, 4, x, y);
    const double lo[2] = {1, -50}, hi[2] = {8.5, 250};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            CU_ASSERT_EQUAL(x[2 * i + j], (float)((raw[i][j] - lo[j]) / (hi[j] - lo[j])));
    CU_ASSERT_STRING_EQUAL(nn_dataset_learned(d), "classes=5 normalize=minmax min=1,-50 max=8.5,250");
    nn_dataset_free(d);
    /* given statistics win over the file's */
    write_csv("m.csv", raw_text, "normalize=standard mean=1,2 std=2,4", spec, sizeof spec);
    d = open_csv(spec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    samples(d, 4, x, y);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(x[2 * i], (float)((raw[i][0] - 1) / 2));
        CU_ASSERT_EQUAL(x[2 * i + 1], (float)((raw[i][1] - 2) / 4));
    }
    nn_dataset_free(d);
    tmp_close();
}

static void test_csv_circle_learns_nothing(void)
{
    nn_dataset *d = NULL;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(fx_ctx(), "circle", "n=10", &d, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_STRING_EQUAL(nn_dataset_learned(d), "");
    nn_dataset_free(d);
    nn_free(err);
}

void register_csv_tests(void)
{
    CU_pSuite s = fx_add_suite("csv");
    if (!s) return;
    FX_ADD(s, test_csv_decode);
    FX_ADD(s, test_csv_standard);
    FX_ADD(s, test_csv_minmax);
    FX_ADD(s, test_csv_circle_learns_nothing);
}
