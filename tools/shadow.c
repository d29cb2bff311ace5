/* shadow.c - the note nnrun prints when a plugin found earlier on the
 * search path (--plugin-path, NN_PLUGIN_PATH) hides another one's
 * component of the same name and that component is used. */
#include "shadow.h"

#include <stdio.h>

void note_shadows(const nn_registry *reg)
{
    static const nn_component *noted[64];
    static int nnoted;
    const nn_component *c;
    for (int i = 0; (c = nn_registry_used(reg, i)); i++) {
        int used = 0;
        const char *other = nn_component_shadows(c, &used);
        if (!other || !used) continue;
        int seen = 0;
        for (int j = 0; j < nnoted && !seen; j++) seen = noted[j] == c;
        if (seen) continue;
        if (nnoted < (int)(sizeof noted / sizeof *noted)) noted[nnoted++] = c;
        fprintf(stderr, "nnrun: note: %s '%s' from %s shadows %s\n",
                nn_kind_name(nn_component_kind(c)), nn_component_name(c), nn_component_file(c),
                other);
    }
}
