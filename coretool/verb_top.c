/*
 * verb_top.c: coretool top (placeholder until its issue lands).
 */
#include "config.h"

#include "coretool.h"

int ct_verb_top(int argc, char **argv)
{
	return ct_error(CT_EXIT_USAGE, "top", "not implemented yet (see the open issues)");
}
