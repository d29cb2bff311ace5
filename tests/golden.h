/* golden.h - values computed by PyTorch, for the CUnit tests.
 *
 * The generators tests/golden/gen_*.py run PyTorch (Debian's python3-torch)
 * once and write tests/golden/NAME.txt, committed as data, so that
 * `make check` needs no PyTorch. A file holds named float32 tensors, one a
 * line (tests/golden/golden.py writes them):
 *
 *   NAME NDIM D0 D1 ... V0 V1 ...
 *
 * values with 9 significant digits (exact for float32); lines starting with
 * '#' are comments. A 0-d tensor has NDIM 0 and one value. */
#ifndef NN_TEST_GOLDEN_H
#define NN_TEST_GOLDEN_H

#include "test.h"

typedef struct golden golden;

/* Reads $top_srcdir/tests/golden/FILE (a fatal assertion if it cannot).
 * Free with golden_close(). */
golden *golden_open(const char *file);
void golden_close(golden *g);

/* The values of NAME (borrowed, valid until golden_close) and its shape;
 * NULL and a failed assertion when the file has no such tensor. */
const float *golden_get(golden *g, const char *name, nn_shape *shape);
/* Is NAME in the file? */
int golden_has(golden *g, const char *name);
/* A persistent tensor on the current test's context holding NAME (tracked:
 * freed when the test ends); a fatal assertion when NAME is absent. */
nn_tensor *golden_tensor(golden *g, const char *name, int requires_grad);
/* A scalar attribute stored as a one-element tensor. */
double golden_scalar(golden *g, const char *name);

/* t has NAME's shape and values: |got - want| <= atol + rtol * |want|. */
void golden_check_(golden *g, const nn_tensor *t, const char *name, double atol, double rtol,
                   unsigned line, const char *file, const char *func);
#define GOLDEN_CHECK(g, t, name, atol, rtol) \
    golden_check_((g), (t), (name), (atol), (rtol), __LINE__, __FILE__, __func__)

#endif
