/* test_buffers.c - buffers (nn_module_add_buffer) and train/eval mode. */
#include "test.h"

void register_buffer_tests(void)
{
}
