/*
 * verb_trace.c: coretool trace (placeholder until its issue lands).
 */
#include "config.h"

#include "coretool.h"

int ct_verb_trace(int argc, char **argv)
{
	return ct_error(CT_EXIT_USAGE, "trace", "not implemented yet (see the open issues)");
}
