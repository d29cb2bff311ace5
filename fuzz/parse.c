/* parse.c - fuzz target: the property parser (nn_props_parse against a
 * component's table) and the chain parser (nn_module_from_chain). The first
 * byte picks the parser and the component; the rest is the text. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    if (size < 1 || size > 4096) return 0;
    char *text = fuzz_str(data + 1, size - 1);
    /* Sizes of 10000 and up only measure the machine's memory: skip them. */
    for (const char *q = text; *q; q++)
        if ((q[0] >= '0' && q[0] <= '9' && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' &&
             q[2] <= '9' && q[3] >= '0' && q[3] <= '9') ||
            ((q[0] == 'e' || q[0] == 'E') && (q[1] == '+' || (q[1] >= '0' && q[1] <= '9')))) {
            free(text);
            return 0;
        }
    char *err = NULL;
    int n = nn_registry_count(fuzz_reg);
    unsigned pick = data[0];
    if (pick < 128) {
        /* properties of one of the registered components */
        const nn_component *c = nn_registry_at(fuzz_reg, (int)(pick % (unsigned)n));
        nn_props *p = NULL;
        if (nn_props_parse(c, text, &p, &err)) {
            fuzz_check_msg(err);
            nn_free(err);
        }
        nn_props_free(p);
    } else {
        /* a chain, on a sample of 4 features, or of unknown width, or an image */
        nn_shape in = {1, {4}};
        if (pick % 3 == 1) in.dim[0] = -1;
        if (pick % 3 == 2) in = (nn_shape){3, {1, 6, 6}};
        nn_module *m = NULL;
        if (nn_module_from_chain(fuzz_ctx, text, &in, &m, &err)) {
            fuzz_check_msg(err);
            nn_free(err);
        }
        nn_module_free(m);
    }
    free(text);
    return 0;
}
