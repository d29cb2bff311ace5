/* loopcomm.c - a communicator of one rank that takes the memory of the
 * hostdev device, for the tests of the core's device path: its
 * allreduce_sum refuses host memory, so a run with --device hostdev only
 * trains when the core hands it the gradients on the device, and a run on
 * cpu (whose memory is host memory) must come to it through the host. It
 * sums over its one rank: the buffer stays as it is. */
#include <nn/plugin.h>

#include <string.h>

static nn_status loop_open(const nn_props *p, void **comm, char **err)
{
    (void)p, (void)err;
    static int handle;
    *comm = &handle;
    return NN_OK;
}
static int loop_rank(void *comm) { return (void)comm, 0; }
static int loop_size(void *comm) { return (void)comm, 1; }
static nn_status loop_broadcast(void *comm, void *buf, size_t bytes, int root, char **err)
{
    (void)comm, (void)buf, (void)bytes, (void)root, (void)err;
    return NN_OK;
}
static nn_status loop_allreduce(void *comm, float *buf, int64_t n, int on_device, char **err)
{
    (void)comm, (void)buf, (void)n;
    if (!on_device) return nn_fail(err, NN_UNSUPPORTED, "loopcomm was given host memory");
    return NN_OK;
}
static nn_status loop_barrier(void *comm, char **err) { return (void)comm, (void)err, NN_OK; }
static void loop_abort(void *comm, int code, const char *msg) { (void)comm, (void)code, (void)msg; }

static const nn_comm_vt loop_vt = {
    NN_VT_HEADER(nn_comm_vt),
    .open = loop_open,
    .rank = loop_rank,
    .size = loop_size,
    .broadcast = loop_broadcast,
    .allreduce_sum = loop_allreduce,
    .barrier = loop_barrier,
    .abort = loop_abort,
    .flags = NN_COMM_DEVICE_MEMORY,
    .device = "hostdev",
};

static const nn_component_def loop_components[] = {
    {NN_KIND_COMM, "loopcomm", "one rank; takes hostdev memory only", &loop_vt, NULL, 0},
};
NN_PLUGIN_DEFINE("loopcomm", "1.0", loop_components)
