/* badcomm.c - a communicator without an allreduce: the registry must refuse
 * it when it loads, naming the slots a communicator needs. */
#include <nn/plugin.h>

static nn_status solo_open(const nn_props *p, void **comm, char **err)
{
    (void)p, (void)err;
    *comm = NULL;
    return NN_OK;
}
static int solo_rank(void *comm) { return (void)comm, 0; }
static int solo_size(void *comm) { return (void)comm, 1; }
static nn_status solo_broadcast(void *comm, void *buf, size_t bytes, int root, char **err)
{
    (void)comm, (void)buf, (void)bytes, (void)root, (void)err;
    return NN_OK;
}
static nn_status solo_barrier(void *comm, char **err) { return (void)comm, (void)err, NN_OK; }
static void solo_abort(void *comm, int code, const char *msg) { (void)comm, (void)code, (void)msg; }

static const nn_comm_vt badcomm_vt = {
    NN_VT_HEADER(nn_comm_vt),
    .open = solo_open,
    .rank = solo_rank,
    .size = solo_size,
    .broadcast = solo_broadcast,
    .barrier = solo_barrier,
    .abort = solo_abort, /* and no allreduce_sum */
};

static const nn_component_def badcomm_components[] = {
    {NN_KIND_COMM, "badcomm", "a communicator without allreduce_sum", &badcomm_vt, NULL, 0},
};
NN_PLUGIN_DEFINE("badcomm", "1.0", badcomm_components)
