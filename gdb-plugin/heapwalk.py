# heapwalk.py: the `heapsnap` commands for gdb.
#
#   (gdb) source PREFIX/share/heapwalk/gdb/heapwalk.py
#
# (`make install` also puts a snippet in gdb's system init directory that
# does this in every new gdb.)  This file only registers the commands and
# describes gdb's target to the _heapwalk extension module, which does all
# the work in C through libheapwalk: the walk reads the core file or
# /proc/PID/mem directly, never through gdb values.
#
# Every failure is one gdb error line ("heapsnap ...: what (what to do)"),
# never a Python traceback.

import os
import re
import sys

import gdb


def _load_extension():
    """Import _heapwalk from $HEAPWALK_PLUGIN_PATH or from next to this file."""
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = [d for d in os.environ.get("HEAPWALK_PLUGIN_PATH", "").split(":") if d]
    dirs.append(here)
    saved = list(sys.path)
    try:
        sys.path[:0] = dirs
        import _heapwalk  # noqa: E402  (the C extension)

        return _heapwalk, None
    except ImportError as e:
        return None, "cannot load the _heapwalk extension module (%s)" % e
    finally:
        sys.path[:] = saved


_hw, _load_error = _load_extension()
if _load_error:
    gdb.write("heapwalk: %s\n" % _load_error, gdb.STDERR)

_CORE_FILE = re.compile(r"Local core dump file:\s*`(.+?)', file type")
_MAPPING = re.compile(r"^\s*(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(?:([r-][w-][x-][ps-])\s+)?(.*)$")


def _threads(inferior):
    """(tid, pc, sp, fs_base) of every thread, the selection restored after."""
    threads = []
    selected = gdb.selected_thread()
    try:
        frame = gdb.selected_frame()
    except gdb.error:
        frame = None
    try:
        for th in inferior.threads():
            if th.is_running():
                raise gdb.GdbError("heapsnap: thread %d is running (stop every thread first: interrupt -a)" % th.num)
            th.switch()
            f = gdb.newest_frame()
            regs = []
            for name in ("pc", "sp", "fs_base"):
                try:
                    regs.append(int(f.read_register(name)) & 0xFFFFFFFFFFFFFFFF)
                except (gdb.error, ValueError):
                    regs.append(0)
            threads.append((th.ptid[1] or th.ptid[0], regs[0], regs[1], regs[2]))
    finally:
        if selected is not None and selected.is_valid():
            selected.switch()
            if frame is not None and frame.is_valid():
                frame.select()
    return threads


def _mappings():
    """The memory map from `info proc mappings` (remote targets)."""
    try:
        text = gdb.execute("info proc mappings", to_string=True)
    except gdb.error as e:
        raise gdb.GdbError("heapsnap: cannot list the target's mappings (%s)" % e)
    maps = []
    for line in text.splitlines():
        m = _MAPPING.match(line)
        if m:
            perms = m.group(4) or "rwxp"
            path = m.group(5).strip() or None
            maps.append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16), perms, path))
    return maps


def _describe(through_debugger=False):
    """What _heapwalk needs of gdb's target (see gdb-plugin/target.c)."""
    inferior = gdb.selected_inferior()
    conn = inferior.connection
    exe = gdb.current_progspace().filename
    # "target:/path": gdb read the file through the target (a process in
    # another mount namespace, gdbserver); the path is the process's own
    if exe and exe.startswith("target:"):
        exe = exe[len("target:"):]
    if conn is None or (conn.type != "core" and not inferior.pid):
        raise gdb.GdbError("heapsnap: no process (run the program, attach to one, or load a core file)")
    # where gdb looks for separate debug files, for libc's and CPython's
    # (heapsnap --debug-dir overrides it)
    debug_dirs = gdb.parameter("debug-file-directory")
    if conn.type == "core":
        m = _CORE_FILE.search(gdb.execute("info target", to_string=True))
        if not m:
            raise gdb.GdbError("heapsnap: gdb did not say which core file it loaded (info target)")
        return {"kind": "core", "core": m.group(1), "exe": exe, "debug_dirs": debug_dirs}
    threads = _threads(inferior)
    if conn.type == "native" and not through_debugger:
        return {"kind": "live", "pid": inferior.pid, "exe": exe, "threads": threads,
                "debug_dirs": debug_dirs}

    def read(addr, length):
        return inferior.read_memory(addr, length).tobytes()

    return {"kind": "callback", "pid": inferior.pid, "exe": exe, "threads": threads,
            "read": read, "mappings": _mappings(), "debug_dirs": debug_dirs}


def _address(expr):
    """heapsnap show ADDRESS: any gdb expression, passed on as a number."""
    try:
        v = gdb.parse_and_eval(expr)
        return "0x%x" % (int(v) & 0xFFFFFFFFFFFFFFFF)
    except (gdb.error, ValueError, TypeError) as e:
        raise gdb.GdbError("heapsnap show: '%s' is not an address (%s)" % (expr, e))


_VALUED = ("--format", "--frames", "-o", "--output", "--exe", "--sysroot", "--debug-dir")


def _positionals(argv):
    """Indexes of show's positional arguments (SNAP, ADDRESS)."""
    pos, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            pos.extend(range(i + 1, len(argv)))
            break
        if a.startswith("-") and len(a) > 1 and not a[1].isdigit():
            i += 2 if a in _VALUED else 1
            continue
        pos.append(i)
        i += 1
    return pos


def _run(sub, arg):
    if _hw is None:
        raise gdb.GdbError("heapsnap: %s" % _load_error)
    try:
        argv = gdb.string_to_argv(arg)
        if sub == "show":
            # the last positional argument is the address: evaluate it
            pos = _positionals(argv)
            if pos:
                argv[pos[-1]] = _address(argv[pos[-1]])
        out, err, status = _hw.run([sub] + argv, _describe)
    except _hw.Error as e:
        raise gdb.GdbError(str(e))
    except gdb.GdbError:
        raise
    except KeyboardInterrupt:
        raise gdb.GdbError("heapsnap: interrupted (nothing was recorded)")
    except Exception as e:  # a gdb API failure: still one line
        raise gdb.GdbError("heapsnap%s: %s" % ("" if sub == "take" else " " + sub, e))
    if out:
        gdb.write(out)
    if err:
        gdb.write(err, gdb.STDERR)
    if status and sub == "diff":
        raise gdb.GdbError("heapsnap diff: the total growth is above --max-growth")


def _doc(sub, fallback):
    try:
        return _hw.help(sub) if _hw else fallback
    except Exception:
        return fallback


class _Heapsnap(gdb.Command):
    def __init__(self):
        super().__init__("heapsnap", gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)

    def invoke(self, arg, from_tty):
        self.dont_repeat()
        _run("take", arg)


# the extension's own list, so a subcommand added there needs nothing here
_SUBS = tuple(_hw.subcommands) if _hw else (
    "list", "top", "diff", "save", "load", "show", "chunks", "check", "report", "target")

_Heapsnap.__doc__ = _doc("take", "Heap snapshots of the inferior (heapwalk).") + (
    "\n\nSubcommands: %s (help heapsnap SUBCOMMAND)." % ", ".join(_SUBS)
)
_Heapsnap()


def _subcommand(sub):
    class Sub(gdb.Command):
        def __init__(self):
            super().__init__("heapsnap " + sub, gdb.COMMAND_DATA,
                             gdb.COMPLETE_EXPRESSION if sub == "show" else gdb.COMPLETE_NONE)

        def invoke(self, arg, from_tty):
            self.dont_repeat()
            _run(sub, arg)

    Sub.__doc__ = _doc(sub, "heapsnap %s (heapwalk)" % sub)
    Sub()


for _sub in _SUBS:
    _subcommand(_sub)
