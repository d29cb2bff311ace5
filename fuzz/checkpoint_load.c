/* checkpoint_load.c - fuzz target: the checkpoint loader on raw bytes
 * (nn_checkpoint_load_mem), then the model and optimizer the checkpoint
 * implies, with its tensors loaded into them.
 * The first byte picks how the rest is used: even, as the file's bytes;
 * odd, as the nn.Checkpoint message, to which the length and CRC-32 trailer
 * is added so that mutations reach the parser and the validation behind the
 * checksum. */
#include "harness.h"

#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    if (size < 1) return 0;
    uint8_t *buf = malloc(size + 16);
    if (!buf) abort();
    size_t n = size - 1;
    memcpy(buf, data + 1, n);
    if (data[0] & 1) {
        uint8_t *t = buf + n;
        uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)n);
        t[0] = 0x7a, t[1] = 0x0e, t[2] = 0x09, t[11] = 0x15;
        for (int i = 0; i < 8; i++) t[3 + i] = (uint8_t)((uint64_t)n >> (8 * i));
        for (int i = 0; i < 4; i++) t[12 + i] = (uint8_t)(crc >> (8 * i));
        n += 16;
    }
    nn_checkpoint *c = NULL;
    char *err = NULL;
    nn_status st = nn_checkpoint_load_mem(buf, n, &c, &err);
    free(buf);
    if (st) {
        fuzz_check_msg(err);
        nn_free(err);
        return 0;
    }
    /* Every accessor on a validated checkpoint. */
    (void)nn_checkpoint_info(c);
    (void)nn_checkpoint_date(c);
    (void)nn_checkpoint_metadata(c, "schedule");
    for (int i = 0; i < nn_checkpoint_tensor_count(c); i++) {
        nn_shape s;
        if (!nn_checkpoint_tensor(c, i, &s)) abort();
    }
    nn_free(nn_checkpoint_model_chain(c));
    nn_free(nn_checkpoint_optim_spec(c));
    nn_train_state ts;
    (void)nn_checkpoint_train_state(c, &ts);

    nn_module *m = NULL;
    if (nn_checkpoint_build_model(c, fuzz_ctx, &m, &err)) {
        fuzz_check_msg(err);
        nn_free(err);
        err = NULL;
    } else {
        nn_optim *o = NULL;
        if (nn_checkpoint_build_optim(c, m, &o, &err)) {
            fuzz_check_msg(err);
            nn_free(err);
            err = NULL;
        }
        nn_optim_free(o);
        nn_module_free(m);
    }
    nn_checkpoint_free(c);
    return 0;
}
