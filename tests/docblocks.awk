# docblocks.awk - writes the C listings of a Markdown file as files the tests
# compile: awk -v out=DIR -v src=NAME -f docblocks.awk FILE.md
#
# A listing (a ```c fence, indented or not) whose first line is
# "/* NAME.c - ..." is a whole file, written as DIR/NAME.c. Any other is a
# fragment, written as DIR/frag-LINE.c (LINE: its fence's line): the SDK and C
# headers, then the listing. An HTML comment right before the fence, from a
# line "<!-- c" to a line "-->" (either may be indented), gives a fragment its context: C code (the
# declarations the fragment uses, or a function around its statements) in
# which a line "@@" stands for the listing; without "@@" the listing follows
# it. #line directives make compiler messages name the lines of the Markdown
# file (src). Prints the name of each file written; exits 1 on a malformed
# file, naming the line.

function fail(msg) {
    printf "%s:%d: %s\n", src, NR, msg > "/dev/stderr"
    bad = 1
}

function emit(   f, i, placed) {
    if (nbody && body[0] ~ /^\/\* [A-Za-z0-9_]+\.c - /) {
        if (nctx) fail("a whole-file listing takes no context")
        f = body[0]
        sub(/^\/\* /, "", f)
        sub(/\.c - .*/, ".c", f)
        if (f in whole) fail("a second listing of " f " (the first is at line " whole[f] ")")
        whole[f] = start
        f = out "/" f
        for (i = 0; i < nbody; i++) print body[i] > f
    } else {
        f = sprintf("%s/frag-%04d.c", out, start)
        printf "#include <nn/plugin.h>\n\n#include <math.h>\n#include <stdio.h>\n" > f
        printf "#include <stdlib.h>\n#include <string.h>\n" > f
        placed = 0
        if (nctx) printf "#line %d \"%s\"\n", ctxstart, src > f
        for (i = 0; i < nctx; i++) {
            if (ctx[i] ~ /^ *@@$/) {
                placed = 1
                listing(f)
                printf "#line %d \"%s\"\n", ctxstart + i + 1, src > f
            } else {
                print ctx[i] > f
            }
        }
        if (!placed) listing(f)
    }
    close(f)
    print f
    nctx = 0
}

function listing(f,   i) {
    printf "#line %d \"%s\"\n", start + 1, src > f
    for (i = 0; i < nbody; i++) print body[i] > f
}

BEGIN {
    if (out == "") out = "."
    if (src == "") src = "doc"
}

incomment {
    if ($0 ~ /^ *-->$/) {
        incomment = 0
        pending = 1
    } else {
        ctx[nctx++] = $0
    }
    next
}

inblock {
    if ($0 == indent "```") {
        inblock = 0
        emit()
    } else {
        line = $0
        if (substr(line, 1, length(indent)) == indent) line = substr(line, length(indent) + 1)
        body[nbody++] = line
    }
    next
}

/^ *```c$/ {
    inblock = 1
    indent = $0
    sub(/```c$/, "", indent)
    start = NR
    nbody = 0
    if (!pending) nctx = 0
    pending = 0
    next
}

pending {
    fail("a <!-- c --> context must come right before a ```c listing")
    pending = 0
    nctx = 0
}

/^ *<!-- c$/ {
    incomment = 1
    nctx = 0
    ctxstart = NR + 1
    next
}

END {
    if (inblock) fail("a listing is not closed")
    if (incomment || pending) fail("a <!-- c --> context is not followed by a listing")
    exit bad
}
