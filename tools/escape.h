/* escape.h - strings from files (checkpoint names, info texts, messages that
 * quote them) made safe for a terminal: control characters are written as
 * C escapes, so that no byte can move the cursor, forge a line or start a
 * terminal escape sequence. */
#ifndef NNRUN_ESCAPE_H
#define NNRUN_ESCAPE_H

#include <stdio.h>

/* Writes s to f with control characters escaped: \r as "\\r", ESC as
 * "\\x1b", a C1 control (UTF-8 C2 80..C2 9F) as "\\u0080"..; a newline too
 * unless keep_newlines. */
void fput_escaped(const char *s, FILE *f, int keep_newlines);

/* s escaped (newlines too), in one of a few buffers that later calls reuse:
 * for the arguments of one printf. */
const char *esc(const char *s);

#endif
