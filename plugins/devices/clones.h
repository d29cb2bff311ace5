/* clones.h - NN_VEC_FN: a function with vector loops built once per
 * instruction set (AVX-512 as x86-64-v4, AVX2 + FMA as x86-64-v3, the
 * x86-64 baseline) and a function of its name that calls the build this
 * CPU runs, so that no plugin needs -march. Elsewhere (another compiler or
 * architecture), the one build. Every plugin with hot loops uses it, so that
 * all take the same instruction sets.
 *
 *     NN_VEC_FN(void, relu_loop, (int64_t n, const float *x, float *y), (n, x, y))
 *     {
 *         ... relu_loop's body ...
 *     }
 *
 * defines the static function relu_loop (and relu_loop_v4, _v3, _v1 and
 * _body beside it). Each build is a function of its own, never inlined
 * into relu_loop, which only picks one: inlined into its callers, it costs
 * them a load and a compare, where a build inlined there would cost them
 * its stack frame on every call.
 *
 * The CPU's level comes from what the dynamic linker already found out
 * (glibc's <sys/platform/x86.h>), read once per plugin. GCC's
 * target_clones, used before, ran libgcc's CPUID sweep in every plugin that
 * had a clone: about 35 us each on a virtual machine, where every CPUID
 * traps to the hypervisor, and 0.15 ms of the tutorial's 22 ms run. */
#ifndef NN_CLONES_H
#define NN_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__)

#if defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
/* glibc's CPU_FEATURE_ACTIVE, its bit taken with an unsigned shift: the
 * header's (1 << bit) is undefined for bit 31, AVX512VL's. */
static inline int nn_cpu_active(unsigned int index)
{
    const struct cpuid_feature *f = __x86_get_cpuid_feature_leaf(index / 128);
    return (f->active_array[index % 128 / 32] >> (index % 32)) & 1u;
}
#define NN_CPU_ACTIVE(f) nn_cpu_active(x86_cpu_##f)
#endif
#endif

/* 4: x86-64-v4 (AVX-512 F, BW, CD, DQ, VL and v3), 3: x86-64-v3 (AVX2,
 * FMA, BMI1 and 2, F16C, LZCNT, MOVBE and AVX), 1: the baseline. */
static inline int nn_vec_level(void)
{
    static int level; /* 0: not read yet */
    if (__builtin_expect(level, 1)) return level;
#ifdef NN_CPU_ACTIVE
    int v3 = NN_CPU_ACTIVE(AVX) && NN_CPU_ACTIVE(AVX2) && NN_CPU_ACTIVE(FMA) &&
             NN_CPU_ACTIVE(BMI1) && NN_CPU_ACTIVE(BMI2) && NN_CPU_ACTIVE(F16C) &&
             NN_CPU_ACTIVE(LZCNT) && NN_CPU_ACTIVE(MOVBE);
    int v4 = v3 && NN_CPU_ACTIVE(AVX512F) && NN_CPU_ACTIVE(AVX512BW) &&
             NN_CPU_ACTIVE(AVX512CD) && NN_CPU_ACTIVE(AVX512DQ) && NN_CPU_ACTIVE(AVX512VL);
#else /* a C library without it: libgcc's sweep, once in this plugin */
    __builtin_cpu_init();
    int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    int v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
#endif
    level = v4 ? 4 : v3 ? 3 : 1;
    return level;
}

/* Does the CPU run AVX-512 F, VL and DQ (the hand-written kernels' set)? */
static inline int nn_vec_avx512(void) { return nn_vec_level() >= 4; }

#define NN_VEC_FN(RET, NAME, PARAMS, ARGS)                                              \
    static inline __attribute__((always_inline)) RET NAME##_body PARAMS;                \
    __attribute__((target("arch=x86-64-v4"))) static RET NAME##_v4 PARAMS               \
    {                                                                                   \
        return NAME##_body ARGS;                                                        \
    }                                                                                   \
    __attribute__((target("arch=x86-64-v3"))) static RET NAME##_v3 PARAMS               \
    {                                                                                   \
        return NAME##_body ARGS;                                                        \
    }                                                                                   \
    __attribute__((noinline)) static RET NAME##_v1 PARAMS { return NAME##_body ARGS; }  \
    static RET NAME PARAMS                                                              \
    {                                                                                   \
        int level_ = nn_vec_level();                                                    \
        return level_ >= 4 ? NAME##_v4 ARGS : level_ >= 3 ? NAME##_v3 ARGS : NAME##_v1 ARGS; \
    }                                                                                   \
    static inline __attribute__((always_inline)) RET NAME##_body PARAMS

#else

static inline int nn_vec_avx512(void) { return 0; }

#define NN_VEC_FN(RET, NAME, PARAMS, ARGS) static RET NAME PARAMS

#endif

#endif
