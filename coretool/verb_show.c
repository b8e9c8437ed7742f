/*
 * verb_show.c: coretool show (placeholder until its issue lands).
 */
#include "config.h"

#include "coretool.h"

int ct_verb_show(int argc, char **argv)
{
	return ct_error(CT_EXIT_USAGE, "show", "not implemented yet (see the open issues)");
}
