/*
 * internal.h: what libheapwalk's own files share and nothing outside sees.
 *
 * hw_error_set() records the one-line message that hw_error_last() returns
 * and gives back the code, so a failing path reads
 *     return hw_error_set(HW_EFAULT, "0x%lx: not mapped", addr);
 */
#ifndef HW_INTERNAL_H
#define HW_INTERNAL_H

#include "heapwalk.h"

#include <stdarg.h>

#define HW_PRINTF(f, a) __attribute__((format(printf, f, a)))

int hw_error_set(int code, const char *fmt, ...) HW_PRINTF(2, 3);
int hw_error_setv(int code, const char *fmt, va_list ap);

#define HW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* HW_INTERNAL_H */
