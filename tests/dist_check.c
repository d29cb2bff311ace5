/* dist_check.c - the Communicator interface under mpirun, for tests/dist.sh.
 *
 *   dist_check NAME SIZE           every collective, checked on every rank
 *   dist_check NAME SIZE abort     the last rank aborts; the others wait in
 *                                  a barrier that only the abort ends
 *
 * Each rank prints "rank R of N: ok" when every check passed, else one
 * "rank R of N: FAIL ..." line per failure, and exits 1. The values are
 * whole numbers, whose float sums are exact in any order, so every check
 * is exact. */
#include <nn/nn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, failures;

static void expect(int ok, const char *what)
{
    if (ok) return;
    failures++;
    printf("rank %d of %d: FAIL %s\n", rank, size, what);
}

/* Rank 0's pattern of n bytes reaches every rank. */
static void check_broadcast(nn_comm *c, size_t n, int root)
{
    unsigned char *b = malloc(n);
    if (!b) return expect(0, "out of memory");
    for (size_t i = 0; i < n; i++) b[i] = rank == root ? (unsigned char)(i * 7 + 3) : 0;
    char *err = NULL;
    if (nn_comm_broadcast(c, b, n, root, &err)) {
        expect(0, err);
        nn_free(err);
    } else {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += b[i] != (unsigned char)(i * 7 + 3);
        expect(!bad, "broadcast: the root's bytes on every rank");
    }
    free(b);
}

/* Element i of rank r holds (r + 1) * (i % 1000): the sum over ranks is
 * (i % 1000) * size * (size + 1) / 2, exact in floats. */
static void check_allreduce(nn_comm *c, int64_t n)
{
    float *b = malloc((size_t)n * sizeof *b);
    if (!b) return expect(0, "out of memory");
    for (int64_t i = 0; i < n; i++) b[i] = (float)((rank + 1) * (i % 1000));
    char *err = NULL;
    if (nn_comm_allreduce_sum(c, b, n, &err)) {
        expect(0, err);
        nn_free(err);
    } else {
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++)
            bad += b[i] != (float)((i % 1000) * size * (size + 1) / 2);
        expect(!bad, "allreduce_sum: the exact sum on every rank");
    }
    free(b);
}

/* The ranks are 0 .. size-1, each once; the slices of n items cover them
 * once, in order, by contiguous pieces that differ by at most one. */
static void check_ranks_and_slices(nn_comm *c)
{
    char *err = NULL;
    float *seen = calloc((size_t)size, sizeof *seen);
    if (!seen) return expect(0, "out of memory");
    seen[rank] = 1;
    if (nn_comm_allreduce_sum(c, seen, size, &err)) expect(0, err);
    for (int r = 0; r < size; r++) expect(seen[r] == 1, "every rank 0 .. size-1 once");
    free(seen);
    for (int64_t n = 0; n <= 13; n++) {
        int64_t lo, cnt;
        nn_comm_slice(c, n, &lo, &cnt);
        float cover[13] = {0};
        for (int64_t k = lo; k < lo + cnt && k < 13; k++) cover[k] += 1;
        expect(cnt == n / size || cnt == n / size + 1, "a slice's size differs by one at most");
        if (nn_comm_allreduce_sum(c, cover, 13, &err)) expect(0, err);
        for (int64_t k = 0; k < 13; k++)
            expect(cover[k] == (k < n), "the slices cover every item once");
    }
    nn_free(err);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dist_check NAME SIZE [abort]\n");
        return 2;
    }
    nn_registry *reg = NULL;
    nn_comm *c = NULL;
    char *err = NULL;
    if (nn_registry_open(NULL, &reg, &err) || nn_comm_open(reg, argv[1], "", &c, &err)) {
        fprintf(stderr, "dist_check: %s\n", err);
        return 1;
    }
    rank = nn_comm_rank(c);
    size = nn_comm_size(c);
    if (argc > 3 && !strcmp(argv[3], "abort")) {
        if (rank == size - 1) nn_comm_abort(c, 3, "deliberate abort");
        nn_comm_barrier(c, &err); /* only the abort ends it */
        printf("rank %d of %d: survived the abort\n", rank, size);
        return 0;
    }
    expect(size == atoi(argv[2]), "the size mpirun was given");
    check_ranks_and_slices(c);
    check_broadcast(c, 1, 0);
    check_broadcast(c, 100003, 0);
    check_broadcast(c, 4096, size - 1);
    check_allreduce(c, 1);
    check_allreduce(c, 1000003);
    if (nn_comm_barrier(c, &err)) expect(0, err);
    if (!failures) printf("rank %d of %d: ok\n", rank, size);
    fflush(stdout);
    nn_comm_free(c);
    nn_registry_free(reg);
    return failures ? 1 : 0;
}
