/* clones.h - NN_VEC_CLONES: a function with vector loops built once per
 * instruction set (AVX-512, AVX2 + FMA, the x86-64 baseline), the clone the
 * CPU supports picked by the dynamic linker when the plugin loads, so that
 * no plugin needs -march. Elsewhere (another compiler or architecture), the
 * one build. Every plugin with hot loops uses it, so that all take the same
 * instruction sets. */
#ifndef NN_CLONES_H
#define NN_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__)
#define NN_VEC_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_VEC_CLONES
#endif

#endif
