/* test_errors.c - how the core reports what a plugin did wrong; here
 * nn_ctx_set_error, the call a plugin records its own reason with. */
#include "test.h"

/* ---- the tests ------------------------------------------------------------- */

static void test_ctx_set_error(void)
{
    nn_ctx *ctx = fx_ctx();
    CU_ASSERT_EQUAL(nn_ctx_set_error(ctx, NN_OK, "nothing"), NN_OK);
    CHECK_CTX_OK(ctx);
    CU_ASSERT_EQUAL(nn_ctx_set_error(ctx, NN_SHAPE, "swish: %d-d input", 3), NN_SHAPE);
    CU_ASSERT_EQUAL(nn_ctx_set_error(ctx, NN_IO, "a later error"), NN_IO); /* first one wins */
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "swish: 3-d input");
    CHECK_CTX_OK(ctx);
    /* ops refuse to run while it is set, as after any op error */
    nn_ctx_set_error(ctx, NN_INVALID, "stop");
    CU_ASSERT_PTR_NULL(nn_sigmoid(t1d(2, NULL, 0)));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "stop");
}

void register_error_tests(void)
{
    CU_pSuite s = fx_add_suite("errors");
    if (!s) return;
    FX_ADD(s, test_ctx_set_error);
}
