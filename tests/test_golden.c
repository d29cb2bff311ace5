/* test_golden.c - the core's ops and the bce loss against PyTorch's values
 * (tests/golden/core.txt, from gen_core.py): forward and input gradient of
 * sum(f(x) * w), and BCELoss with its gradient. */
#include "golden.h"

#include <string.h>

static void check_unary(golden *g, const char *name, nn_tensor *(*f)(nn_tensor *))
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = golden_tensor(g, "x", 1), *w = golden_tensor(g, "w", 0);
    char key[64];
    nn_tensor *y = f(x);
    snprintf(key, sizeof key, "%s.y", name);
    GOLDEN_CHECK(g, y, key, 0, 1e-6);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, w))), NN_OK);
    snprintf(key, sizeof key, "%s.dx", name);
    GOLDEN_CHECK(g, nn_tensor_grad(x), key, 0, 1e-5);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_golden_core(void)
{
    golden *g = golden_open("core.txt");
    check_unary(g, "sigmoid", nn_sigmoid);
    check_unary(g, "tanh", nn_tanh);
    nn_tensor *p = golden_tensor(g, "bce.p", 1), *t = golden_tensor(g, "bce.t", 0);
    nn_tensor *loss = fx_bce(p, t);
    CHECK_CLOSE(item(loss), golden_scalar(g, "bce.loss"), 0, 1e-6);
    CU_ASSERT_EQUAL(nn_backward(loss), NN_OK);
    GOLDEN_CHECK(g, nn_tensor_grad(p), "bce.dp", 0, 1e-5);
    CHECK_CTX_OK(fx_ctx());
    golden_close(g);
}

void register_golden_tests(void)
{
    CU_pSuite s = fx_add_suite("golden");
    if (!s) return;
    FX_ADD(s, test_golden_core);
}
