/*
 * plugin.h: what the files of the _heapwalk extension module share.
 *
 * The module is the whole of the debugger integration's work: the Python
 * files of gdb and lldb only describe the debugger's target (a dict built
 * from a few debugger API calls) and print the text this module returns.
 *
 *   module.c    the Python module: run(), help(), the Error exception
 *   target.c    a target description (dict) -> an open hw_target
 *   commands.c  the subcommands, their argv parsing and the snapshot registry
 *   tcb.c       threads' fs_base found in memory when the debugger hides it
 *
 * Invariants: every subcommand returns text or raises _heapwalk.Error with
 * one line "heapsnap SUB: what is wrong (what to do)"; a target opened for a
 * command is closed before the command returns (a live inferior's memory is
 * only trusted while it stays stopped); the GIL is held throughout (gdb and
 * lldb call us on their main thread; Ctrl-C is seen by hwp_poll_interrupt).
 */
#ifndef HW_PLUGIN_H
#define HW_PLUGIN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "heapwalk.h"

#include <stdio.h>

/* The exception every failure raises (module.c). */
extern PyObject *hwp_error;

/* Raise _heapwalk.Error("heapsnap SUB: ...") and return NULL. */
PyObject *hwp_fail(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* State of one command while it runs: where Ctrl-C and failed reads of a
 * read-callback target are noted. */
typedef struct hwp_run {
	const char *sub;                         /* subcommand name, for messages */
	PyObject *describe;                      /* callable returning the target description */
	PyObject *read;                          /* remote targets: read(addr, len) -> bytes */
	PyObject *poll;                          /* interrupted() -> bool, or NULL (lldb) */
	int interrupted;                         /* a KeyboardInterrupt was caught and stashed */
	PyObject *exc_type, *exc_value, *exc_tb; /* the stashed exception */
} hwp_run;

/* Target options a command line may carry (--exe, --sysroot, --debug-dir). */
#define HWP_MAX_DEBUG_DIRS 8
typedef struct hwp_target_args {
	const char *exe;
	const char *sysroot;
	const char *debug_dirs[HWP_MAX_DEBUG_DIRS + 1];
	int n_debug_dirs;
	int through_debugger; /* --through-debugger: reads via the debugger */
} hwp_target_args;

/* Ask the debugger glue for its target (run->describe(through_debugger))
 * and open it.
 * *label: "core PATH", "pid N" or "pid N through the debugger" (malloc'd).  0, or -1
 * with a Python exception set. */
int hwp_target_open(hwp_run *run, const hwp_target_args *ta, hw_target **out, char **label);

/* Give the threads of a live or callback target that have no fs_base one
 * found in the target's memory (tcb.c).  Best effort: 0, or -1 when out of
 * memory (nothing changed then, no Python exception set). */
int hwp_find_thread_pointers(hw_target *t);

/* Restore an exception stashed by a callback (Ctrl-C); 1 when one was. */
int hwp_run_restore(hwp_run *run);

/* Has the user pressed Ctrl-C?  Python's signal flag (gdb turns SIGINT into
 * one), then the glue's interrupted() when it gave one (lldb keeps Ctrl-C
 * to itself: SBCommandInterpreter.WasInterrupted).  1 with a
 * KeyboardInterrupt stashed in run (and run->interrupted set), else 0. */
int hwp_poll_interrupt(hwp_run *run);

/* commands.c: run one subcommand (argv[0] is its name).  Returns a tuple
 * (stdout text, stderr text, status) or NULL with an exception set. */
PyObject *hwp_command(hwp_run *run, int argc, char **argv);
/* The help text of a subcommand ("take" for heapsnap itself), or NULL. */
char *hwp_help(const char *sub);
/* The subcommands' names, NULL-terminated. */
extern const char *const hwp_subcommands[];

#endif /* HW_PLUGIN_H */
