/*
 * verb_check.c: coretool check (placeholder until its issue lands).
 */
#include "config.h"

#include "coretool.h"

int ct_verb_check(int argc, char **argv)
{
	return ct_error(CT_EXIT_USAGE, "check", "not implemented yet (see the open issues)");
}
