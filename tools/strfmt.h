/* strfmt.h - a printf-made string, for messages that nnrun's helpers return. */
#ifndef NNRUN_STRFMT_H
#define NNRUN_STRFMT_H

/* The formatted string (the caller frees it), or NULL without memory. */
char *strfmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

#endif
