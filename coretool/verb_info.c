/*
 * verb_info.c: coretool info (placeholder).
 */
#include "config.h"

#include "coretool.h"

int ct_verb_info(int argc, char **argv)
{
	return ct_error(CT_EXIT_USAGE, "info", "not implemented yet");
}
