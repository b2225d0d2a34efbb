"""Run one external program confined: Landlock file access, a memory limit, ended with its parent.

Run as a script (`python -I sandbox.py --read DIR --write DIR --mem BYTES -- PROG ARGS...`), so that nothing of
ours is imported, it confines itself and then execs PROG:
- Landlock (Linux >= 5.13): PROG may read and execute only the system folders (/usr, /lib, /lib64, /bin,
  /etc/ld.so.cache), read only below each --read folder, and write only below the --write folder. Where the
  kernel has no Landlock the program runs without it (`available()` says so; callers check their input);
- RLIMIT_AS of --mem bytes, so a runaway program gets an allocation failure, not the machine's memory;
- PR_SET_PDEATHSIG: PROG is killed when the process that started it dies.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same number on every Linux architecture
_PATH_BENEATH = 1
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_ALL_V1 = (1 << 13) - 1  # execute .. make_sym: every file-system right of Landlock ABI 1
_REFER, _TRUNCATE = 1 << 13, 1 << 14
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE
SYSTEM = ("/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", "/dev/null")


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def available() -> int:
    """The kernel's Landlock ABI version (0: none)."""
    version = _libc().syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(version), 0)


def _confine(read: list[str], write: list[str]) -> None:
    abi = available()
    if abi == 0:
        return
    libc = _libc()
    handled = _ALL_V1 | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    attr = ctypes.c_uint64(handled)
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    def allow(path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = PathBeneath(rights & handled, fd)
        if libc.syscall(_ADD_RULE, ruleset, _PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path} failed")
        os.close(fd)

    for path in SYSTEM:
        allow(path, _EXECUTE | _READ_FILE | _READ_DIR | (_WRITE_FILE if path == "/dev/null" else 0))
    for path in read:
        allow(path, _READ_FILE | _READ_DIR)
    for path in write:
        allow(path, handled)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.syscall(_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) < 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")


def main(argv: list[str]) -> None:
    read, write, mem = [], [], 0
    while argv and argv[0] != "--":
        flag, value, argv = argv[0], argv[1], argv[2:]
        {"--read": read, "--write": write}.get(flag, []).append(value)
        if flag == "--mem":
            mem = int(value)
    program = argv[1:]
    _libc().prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = SIGKILL: ends with the process that started it
    if os.getppid() == 1:
        sys.exit(1)  # that process is already gone
    if mem > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    _confine(read, write)
    os.execvp(program[0], program)


if __name__ == "__main__":
    main(sys.argv[1:])
