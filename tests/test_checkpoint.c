/* test_checkpoint.c - save, load and validation of nn.Checkpoint files. */
#include "test.h"

void register_checkpoint_tests(void) {}
