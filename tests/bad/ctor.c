/* ctor.c - a well-formed plugin with a constructor that runs when the file
 * is loaded: it creates the file named by NN_TEST_CTOR_MARKER. The loader
 * must refuse an untrusted copy before loading it, so no marker appears. */
#include <nn/plugin.h>

#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void ctor_mark(void)
{
    const char *m = getenv("NN_TEST_CTOR_MARKER");
    FILE *f = m ? fopen(m, "w") : NULL;
    if (f) fclose(f);
}

static const nn_module_vt ctor_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "CtorMark",
};

static const nn_component_def ctor_components[] = {
    {NN_KIND_MODULE, "ctor_mark", "a module whose plugin marks its loading", &ctor_vt, NULL, 0},
};

NN_PLUGIN_DEFINE("ctor_mark", "1.0", ctor_components)
