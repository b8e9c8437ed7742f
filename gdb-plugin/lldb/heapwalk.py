# heapwalk.py: the `heapsnap` commands for lldb (the twin of gdb's).
#
#   (lldb) command script import PREFIX/share/heapwalk/lldb/heapwalk.py
#
# Debian's lldb-14 finds its own Python module only with
#   PYTHONPATH=/usr/lib/llvm-14/lib/python3.11/dist-packages
# (its -P answer is wrong).  This file only registers `heapsnap` and
# describes lldb's target to the _heapwalk extension module (the same one
# gdb loads: lldb-14 embeds the same Python 3.11), which does all the work
# in C through libheapwalk.
#
# lldb has no API for the path of a loaded core file: the first heapsnap
# command on a core needs `--core PATH` (remembered for that target).
# Separate debug files are looked for where lldb looks
# (target.debug-file-search-paths, then /usr/lib/debug) unless --debug-dir.
# lldb-14 does not expose fs_base: on live processes the glibc walker
# finds the threads' tcaches without it where it can.
#
# Ctrl-C: lldb's SIGINT handler does not reach Python; it marks the running
# command interrupted (SBCommandInterpreter.WasInterrupted), which the walk
# polls.  As with any interrupted command, lldb then drops the rest of a
# command file being sourced.

import os
import re
import shlex
import sys

import lldb


def _load_extension():
    """_heapwalk from $HEAPWALK_PLUGIN_PATH, next to this file, or ../gdb."""
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = [d for d in os.environ.get("HEAPWALK_PLUGIN_PATH", "").split(":") if d]
    dirs += [here, os.path.join(os.path.dirname(here), "gdb")]
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
_core_paths = {}  # target key -> core path given with --core


class _Fail(Exception):
    """One line for lldb's error output."""


def _key(target):
    return (target.GetExecutable().fullpath, target.GetProcess().GetProcessID())


def _threads(process):
    threads = []
    for th in process:
        f = th.GetFrameAtIndex(0)
        fs = f.FindRegister("fs_base")
        threads.append((th.GetThreadID(), f.GetPC() & 0xFFFFFFFFFFFFFFFF, f.GetSP() & 0xFFFFFFFFFFFFFFFF,
                        fs.GetValueAsUnsigned() if fs.IsValid() else 0))
    return threads


def _mappings(process):
    maps = []
    regions = process.GetMemoryRegions()
    info = lldb.SBMemoryRegionInfo()
    for i in range(regions.GetSize()):
        if not regions.GetMemoryRegionAtIndex(i, info) or not info.IsMapped():
            continue
        perms = ("r" if info.IsReadable() else "-") + ("w" if info.IsWritable() else "-") + \
                ("x" if info.IsExecutable() else "-") + "p"
        maps.append((info.GetRegionBase(), info.GetRegionEnd(), 0, perms, info.GetName()))
    return maps


def _debug_dirs(debugger):
    """lldb's target.debug-file-search-paths, then /usr/lib/debug (where lldb
    looks last), colon-separated; None when the setting is empty (the
    library's default, /usr/lib/debug, then serves).  lldb-14 gives the
    array as one string: "  [0]: /a  [1]: /b"."""
    v = lldb.SBDebugger.GetInternalVariableValue("target.debug-file-search-paths",
                                                 debugger.GetInstanceName())
    text = " ".join(v.GetStringAtIndex(i) for i in range(v.GetSize()))
    dirs = [os.path.abspath(d) for d in re.findall(r"\[\d+\]: (.*?)(?=\s+\[\d+\]: |\s*$)", text)]
    return ":".join(dirs + ["/usr/lib/debug"]) if dirs else None


def _describer(debugger, core):
    def describe(through_debugger=False):
        d = _describe(through_debugger)
        dirs = _debug_dirs(debugger)
        if dirs:
            d["debug_dirs"] = dirs
        return d

    def _describe(through_debugger):
        target = debugger.GetSelectedTarget()
        process = target.GetProcess() if target.IsValid() else None
        if process is None or not process.IsValid():
            raise _Fail("heapsnap: no process (run the program, attach to one, or load a core file)")
        exe = target.GetExecutable().fullpath
        if process.GetPluginName() == "elf-core":
            path = core or _core_paths.get(_key(target))
            if not path:
                raise _Fail("heapsnap: lldb does not say which core file it loaded (give it once with --core PATH)")
            _core_paths[_key(target)] = path
            return {"kind": "core", "core": path, "exe": exe}
        if process.GetState() != lldb.eStateStopped:
            raise _Fail("heapsnap: the process is running (stop it first: process interrupt)")
        pid = process.GetProcessID()
        threads = _threads(process)
        if not through_debugger and target.GetPlatform().GetName() == "host" and \
                os.path.exists("/proc/%d/mem" % pid):
            return {"kind": "live", "pid": pid, "exe": exe, "threads": threads}

        def read(addr, length):
            err = lldb.SBError()
            data = process.ReadMemory(addr, length, err)
            if err.Fail() or data is None:
                raise _Fail("unreadable")
            return data

        return {"kind": "callback", "pid": pid, "exe": exe, "threads": threads,
                "read": read, "mappings": _mappings(process)}

    return describe


# the extension's own list, so a subcommand added there needs nothing here
_SUBS = tuple(_hw.subcommands) if _hw is not None else (
    "list", "top", "diff", "save", "load", "show", "chunks", "check", "report", "target")


def heapsnap(debugger, command, result, internal_dict):
    try:
        if _hw is None:
            raise _Fail("heapsnap: %s" % _load_error)
        argv = shlex.split(command)
        core = None
        if "--core" in argv:
            i = argv.index("--core")
            if i + 1 >= len(argv):
                raise _Fail("heapsnap: --core needs a path")
            core = os.path.abspath(argv[i + 1])
            del argv[i:i + 2]
        sub = argv.pop(0) if argv and argv[0] in _SUBS else "take"
        if argv and argv[0] in ("-h", "--help"):
            result.AppendMessage(_hw.help(sub))
            return
        # lldb keeps Ctrl-C from Python (it installs no Python SIGINT
        # handler): its own handler marks the running command interrupted,
        # which the walk asks now and then.
        interp = debugger.GetCommandInterpreter()
        out, err, status = _hw.run([sub] + argv, _describer(debugger, core), interp.WasInterrupted)
        if out:
            result.AppendMessage(out[:-1] if out.endswith("\n") else out)
        if err:
            result.AppendWarning(err.rstrip("\n"))
        if status and sub == "diff":
            raise _Fail("heapsnap diff: the total growth is above --max-growth")
    except _Fail as e:
        result.SetError(str(e))
    except KeyboardInterrupt:
        result.SetError("heapsnap: interrupted (nothing was recorded)")
    except Exception as e:
        msg = str(e) if _hw is not None and isinstance(e, _hw.Error) else "heapsnap: %s" % e
        result.SetError(msg.splitlines()[0] if msg else "heapsnap: failed")


def _doc():
    if _hw is None:
        return "heapwalk's heap snapshots (the extension did not load: %s)" % _load_error
    parts = [_hw.help("take"), "",
             "Subcommands (heapsnap SUBCOMMAND --help for each): " + ", ".join(_SUBS) + ".",
             "On a core file, the first command needs --core PATH (lldb does not say it)."]
    return "\n".join(parts)


heapsnap.__doc__ = _doc()


def __lldb_init_module(debugger, internal_dict):
    debugger.HandleCommand("command script add -f %s.heapsnap heapsnap" % __name__)
