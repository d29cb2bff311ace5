/* test_describe.c - print, summary, parameter listing and graph. */
#include "test.h"

void register_describe_tests(void) {}
