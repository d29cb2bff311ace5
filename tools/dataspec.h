/* dataspec.h - a dataset spec with the words its dataset learned. */
#ifndef NNRUN_DATASPEC_H
#define NNRUN_DATASPEC_H

#include <stdbool.h>

/* The checkpoint metadata key of nn_dataset_learned's words. */
#define DATA_LEARNED_KEY "data.learned"

/* spec followed by each word of learned ("key=value ...") whose key spec
 * does not give: the user's own words win. NULL when out of memory; the
 * caller frees it. */
char *dataspec_with_learned(const char *spec, const char *learned);

/* Do the specs "name k=v ..." name the same dataset? */
bool dataspec_same_name(const char *a, const char *b);

#endif
