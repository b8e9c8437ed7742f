/*
 * util.c: small helpers that must not allocate: environment numbers with
 * byte suffixes, a per-thread random generator and -ln(u) without libm
 * (the tracer links nothing but libc and libunwind).
 */
#include "tracer.h"

#include <stdlib.h>

/* "4096", "512KiB", "512K", "2MiB", "1G": a byte count, else dflt. */
uint64_t hwt_env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return dflt;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		return dflt;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		break;
	default:
		break;
	}
	return v;
}

/* splitmix64 (Steele, Lea, Flood 2014). */
uint64_t hwt_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* -ln(u): u = m * 2^e with m in [1, 2); ln m = 2 atanh((m-1)/(m+1)), a
 * series in z^2 with z <= 1/3, so 12 terms give about 1e-12. */
double hwt_neg_log(double u)
{
	union {
		double d;
		uint64_t w;
	} x = {.d = u};
	if (u <= 0)
		return 745.0;
	int e = (int)((x.w >> 52) & 0x7ff) - 1023;
	x.w = (x.w & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	double m = x.d, z = (m - 1) / (m + 1), z2 = z * z, term = z, sum = 0;
	for (int k = 1; k < 26; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return -(2 * sum + e * 0.69314718055994530942);
}
