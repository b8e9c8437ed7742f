/*
 * error.c: the thread-local "last error" message (libgit2's git_error_last
 * convention).  Every failing public call sets it; it is one line.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];

const char *hw_error_last(void)
{
	return last_error;
}

int hw_error_setv(int code, const char *fmt, va_list ap)
{
	/* through a copy: a message may quote the last one
	 * ("...: %s", hw_error_last()) */
	char buf[sizeof last_error];
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
	memcpy(last_error, buf, len);
	last_error[len] = 0;
	/* One line, always: a message built from target data may hold a newline. */
	for (char *p = last_error; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return code;
}

int hw_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hw_error_setv(code, fmt, ap);
	va_end(ap);
	return code;
}
