/* mkck.c - writes crafted nn checkpoints for tests/probe.sh: well-framed
 * files (right magic, length and CRC) whose contents probe the loader's
 * limits. Usage: mkck KIND OUT [N]
 *   dims8      input shape of 8 dimensions (the batch makes 9)
 *   chain N    linear out=1 then N-1 sigmoids
 *   huge       linear out=1048576 on an input of 1024, no tensors
 *   tensors N  N tensors, all but the last two unused
 *   states N   sgd state for N parameters
 *   steps      optimizer steps and train step at INT64_MAX
 *   epochs     train epoch at INT64_MAX
 *   ctlname    a chain element whose property holds \r, \v and ESC (refused at load)
 *   ctlinfo    an info text with ESC and form feed (loads; printed escaped)
 *   badutf8    info text that is not UTF-8
 */
#include "nn.pb-c.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return crc ^ 0xFFFFFFFFu;
}

static void *xcalloc(size_t n, size_t s)
{
    void *p = calloc(n ? n : 1, s);
    if (!p) {
        perror("mkck");
        exit(2);
    }
    return p;
}

static Nn__Tensor *tensor(const char *name, size_t ndim, const int64_t *shape)
{
    Nn__Tensor *t = xcalloc(1, sizeof *t);
    nn__tensor__init(t);
    t->name = (char *)name;
    t->n_shape = ndim;
    t->shape = (int64_t *)shape;
    size_t numel = 1;
    for (size_t i = 0; i < ndim; i++) numel *= (size_t)shape[i];
    t->data.len = numel * sizeof(float);
    t->data.data = xcalloc(numel, sizeof(float));
    return t;
}

static Nn__ModuleRef *ref(const char *name, const char *key, const char *value)
{
    Nn__ModuleRef *r = xcalloc(1, sizeof *r);
    nn__module_ref__init(r);
    r->name = (char *)name;
    if (key) {
        Nn__Property *p = xcalloc(1, sizeof *p);
        nn__property__init(p);
        p->key = (char *)key;
        p->value = (char *)value;
        r->n_properties = 1;
        r->properties = xcalloc(1, sizeof *r->properties);
        r->properties[0] = p;
    }
    return r;
}

static const int64_t one[] = {1, 1}, in2[] = {1, 2};

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mkck KIND OUT [N]\n");
        return 2;
    }
    const char *kind = argv[1];
    long n = argc > 3 ? atol(argv[3]) : 0;
    Nn__Checkpoint ck;
    nn__checkpoint__init(&ck);
    ck.magic = "nn.Checkpoint";
    ck.format_version = 1;
    Nn__Model model;
    nn__model__init(&model);
    ck.model = &model;
    static int64_t shape1[] = {2};
    model.input_shape = shape1;
    model.n_input_shape = 1;
    /* The default: linear out=1 on 2 inputs, with its two tensors. */
    model.n_chain = 1;
    model.chain = xcalloc(1, sizeof *model.chain);
    model.chain[0] = ref("linear", "out", "1");
    Nn__Tensor *two[2] = {tensor("weight", 2, in2), tensor("bias", 1, one)};
    ck.n_tensors = 2;
    ck.tensors = two;

    if (!strcmp(kind, "dims8")) {
        static int64_t s8[] = {1, 1, 1, 1, 1, 1, 1, 2};
        model.input_shape = s8;
        model.n_input_shape = 8;
        model.n_chain = 2;
        model.chain = xcalloc(2, sizeof *model.chain);
        model.chain[0] = ref("flatten", NULL, NULL);
        model.chain[1] = ref("linear", "out", "1");
        two[0]->name = "1.weight";
        two[1]->name = "1.bias";
    } else if (!strcmp(kind, "chain")) {
        model.n_chain = (size_t)n;
        model.chain = xcalloc((size_t)n, sizeof *model.chain);
        model.chain[0] = ref("linear", "out", "1");
        for (long i = 1; i < n; i++) model.chain[i] = ref("sigmoid", NULL, NULL);
        two[0]->name = "0.weight";
        two[1]->name = "0.bias";
    } else if (!strcmp(kind, "huge")) {
        /* 2^30 weights (4 GB) in a file of about a hundred bytes */
        static int64_t big[] = {1024};
        model.input_shape = big;
        model.chain[0] = ref("linear", "out", "1048576");
        ck.n_tensors = 0;
    } else if (!strcmp(kind, "tensors")) {
        ck.n_tensors = (size_t)n;
        ck.tensors = xcalloc((size_t)n, sizeof *ck.tensors);
        /* the model's two last, so that a loader must look at every name */
        ck.tensors[n - 2] = two[0];
        ck.tensors[n - 1] = two[1];
        for (long i = 0; i < n - 2; i++) {
            char *name = xcalloc(32, 1);
            snprintf(name, 32, "extra%ld", i);
            ck.tensors[i] = tensor(name, 1, one);
        }
    } else if (!strcmp(kind, "states")) {
        Nn__Optimizer *o = xcalloc(1, sizeof *o);
        nn__optimizer__init(o);
        o->name = "sgd";
        o->n_state = (size_t)n;
        o->state = xcalloc((size_t)n, sizeof *o->state);
        for (long i = 0; i < n; i++) {
            Nn__ParamState *ps = xcalloc(1, sizeof *ps);
            nn__param_state__init(ps);
            char *name = xcalloc(32, 1);
            snprintf(name, 32, "p%ld", i);
            ps->param = name;
            o->state[i] = ps;
        }
        ck.optimizer = o;
    } else if (!strcmp(kind, "steps") || !strcmp(kind, "epochs")) {
        bool epochs = !strcmp(kind, "epochs");
        Nn__Optimizer *o = xcalloc(1, sizeof *o);
        nn__optimizer__init(o);
        o->name = "sgd";
        o->steps = epochs ? 0 : INT64_MAX;
        ck.optimizer = o;
        Nn__TrainState *t = xcalloc(1, sizeof *t);
        nn__train_state__init(t);
        t->epoch = epochs ? INT64_MAX : 1;
        t->step = epochs ? 0 : INT64_MAX;
        t->rng_inc = 1;
        t->data = "circle n=1200";
        t->loss = "bce";
        t->batch = 100;
        t->shuffle = "epoch";
        ck.train = t;
        t->n_order = 1200;
        t->order = xcalloc(1200, sizeof *t->order);
        for (int i = 0; i < 1200; i++) t->order[i] = i;
        model.n_chain = 2;
        model.chain = xcalloc(2, sizeof *model.chain);
        model.chain[0] = ref("linear", "out", "1");
        model.chain[1] = ref("sigmoid", NULL, NULL);
        two[0]->name = "0.weight";
        two[1]->name = "0.bias";
    } else if (!strcmp(kind, "ctlname")) {
        model.chain[0] = ref("linear", "out", "1\r\vnnrun:forged\x1b[31m");
    } else if (!strcmp(kind, "ctlinfo")) {
        ck.info = "\x1b[31mred\x1b[0m\fx";
    } else if (!strcmp(kind, "badutf8")) {
        ck.info = "bad \xff\xfe text";
    } else {
        fprintf(stderr, "mkck: unknown kind '%s'\n", kind);
        return 2;
    }

    size_t len = nn__checkpoint__get_packed_size(&ck);
    uint8_t *buf = xcalloc(len + 16, 1);
    nn__checkpoint__pack(&ck, buf);
    uint8_t *t = buf + len;
    t[0] = 0x7a;
    t[1] = 0x0e;
    t[2] = 0x09;
    for (int i = 0; i < 8; i++) t[3 + i] = (uint8_t)((uint64_t)len >> (8 * i));
    t[11] = 0x15;
    uint32_t crc = crc32_ieee(buf, len);
    for (int i = 0; i < 4; i++) t[12 + i] = (uint8_t)(crc >> (8 * i));
    FILE *f = fopen(argv[2], "wb");
    if (!f || fwrite(buf, 1, len + 16, f) != len + 16 || fclose(f)) {
        perror(argv[2]);
        return 2;
    }
    return 0;
}
