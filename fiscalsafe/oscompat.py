"""What differs between Windows, macOS and Linux, one function per facility.

Callers never test ``sys.platform``: they ask here. Each function uses the best call the
running system offers and a safe fallback elsewhere (never a call that does not exist).
The Windows and macOS calls go through ctypes, loaded only when used.

Imports nothing of fiscalsafe.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath, PureWindowsPath

#: Forces the workers' start method (``forkserver`` or ``spawn``); default: the best one.
START_METHOD_ENV = "FISCALSAFE_START_METHOD"
START_METHODS = ("forkserver", "spawn")

#: File systems whose files stop at 4 GiB - 1 byte (names as each system reports them).
FAT_TYPES = frozenset({"vfat", "msdos", "fat", "fat12", "fat16", "fat32", "umsdos"})
#: exFAT, the other file system USB sticks come with: no 4 GiB limit.
EXFAT_TYPES = frozenset({"exfat"})

#: Windows errors for a file another program holds open (sharing and lock violations).
SHARING_VIOLATIONS = frozenset({32, 33})
#: How long a rename waits out a file briefly held open (an antivirus scanning it).
RENAME_RETRIES = (0.1, 0.25, 0.5, 1.0, 2.0)

#: Windows' classic path limit; longer paths need the ``\\?\`` prefix.
MAX_PATH = 260


def is_windows() -> bool:
    return sys.platform == "win32"


def is_macos() -> bool:
    return sys.platform == "darwin"


# --- Worker processes ---------------------------------------------------------------------


def start_method() -> str:
    """forkserver where the system has it, spawn elsewhere; ``$FISCALSAFE_START_METHOD``
    forces one (an unknown or unavailable value is an error raised to the caller)."""
    forced = os.environ.get(START_METHOD_ENV)
    available = multiprocessing.get_all_start_methods()
    if forced:
        if forced not in START_METHODS or forced not in available:
            from fiscalsafe.i18n import _  # i18n imports this module

            raise ValueError(
                _(
                    "{variable}={value}: this system offers {methods}",
                    variable=START_METHOD_ENV,
                    value=repr(forced),
                    methods=", ".join(m for m in START_METHODS if m in available),
                )
            )
        return forced
    return "forkserver" if "forkserver" in available else "spawn"


def start_method_or_none() -> str | None:
    """``start_method()``, or None where it would raise."""
    try:
        return start_method()
    except ValueError:
        return None


def interrupt_signals() -> set[int]:
    """The signals that mean "stop": Ctrl-C and SIGTERM, and Ctrl-Break on Windows."""
    names = ("SIGINT", "SIGTERM", "SIGBREAK")
    return {getattr(signal, n) for n in names if hasattr(signal, n)}


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Keep the interrupt signals from cutting short what runs inside (starting worker
    processes), in this process and in the processes it starts.

    With ``pthread_sigmask`` the kernel holds them and delivers them on the way out;
    children inherit the mask. Without it (Windows) they are ignored while inside, so a
    worker starts with them ignored too: a Ctrl-C in that moment is lost, never half a
    start. Outside the main thread, where handlers cannot be set, nothing is held."""
    if can_mask_signals():
        old = signal.pthread_sigmask(signal.SIG_BLOCK, interrupt_signals())
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return
    with _signals_ignored():
        yield


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    previous: dict[int, object] = {}
    try:
        for signum in interrupt_signals():
            previous[signum] = signal.signal(signum, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def can_mask_signals() -> bool:
    return hasattr(signal, "pthread_sigmask")


def has_resource_tracker() -> bool:
    """Whether multiprocessing starts its resource tracker process here (POSIX does)."""
    return os.name == "posix"


# --- Free space and the medium's file system -----------------------------------------------


def free_bytes(path: Path) -> int:
    """Bytes this user may still write on the file system holding ``path``."""
    return shutil.disk_usage(path).free


def filesystem_type(path: Path) -> str | None:
    """The file-system type holding ``path``, lower case (``vfat``, ``msdos``, ``fat32``,
    ``exfat``, ``ntfs``, ``apfs``...), or None when the system does not say."""
    if is_windows():
        finder: Callable[[Path], str | None] = _windows_filesystem
    elif is_macos():
        finder = _macos_filesystem
    else:
        finder = _linux_filesystem
    try:
        found = finder(path)
    except (OSError, ValueError, AttributeError, IndexError):
        return None
    return found.lower() if found else None


def is_fat(fs_type: str | None) -> bool:
    return fs_type in FAT_TYPES


def _linux_filesystem(path: Path) -> str | None:
    target = os.path.realpath(path)
    best, best_type = "", None
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            mount_point = left.split()[4].replace("\\040", " ")
            fs_type = right.split()[0] if right else None
            inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, best_type = mount_point, fs_type
    return best_type


def _windows_filesystem(path: Path) -> str | None:
    """``GetVolumePathNameW`` for the volume's root (a drive, a UNC share, a mount folder),
    then ``GetVolumeInformationW`` for its file system's name ("FAT32", "exFAT", "NTFS")."""
    kernel32 = _windll("kernel32")
    target = str(Path(path).absolute())
    root = ctypes.create_unicode_buffer(MAX_PATH + 1)
    if not kernel32.GetVolumePathNameW(target, root, len(root)):
        return None
    name = ctypes.create_unicode_buffer(MAX_PATH + 1)
    ok = kernel32.GetVolumeInformationW(root.value, None, 0, None, None, None, name, len(name))
    return name.value if ok else None


def ui_language_tag() -> str | None:
    """The user's display language where the system keeps it apart from the locale
    variables: Windows' UI language (``fr`` or ``en``, from the primary language id of
    ``GetUserDefaultUILanguage``); None elsewhere or when unknown."""
    if not is_windows():
        return None
    try:
        langid = _windll("kernel32").GetUserDefaultUILanguage()
    except (AttributeError, OSError):
        return None
    return {0x0C: "fr", 0x09: "en"}.get(langid & 0x3FF)


def _windll(name: str):
    return ctypes.WinDLL(name, use_last_error=True)


class _MacStatfs(ctypes.Structure):
    """Darwin's ``struct statfs`` (64-bit inode layout)."""

    _fields_ = [
        ("f_bsize", ctypes.c_uint32),
        ("f_iosize", ctypes.c_int32),
        ("f_blocks", ctypes.c_uint64),
        ("f_bfree", ctypes.c_uint64),
        ("f_bavail", ctypes.c_uint64),
        ("f_files", ctypes.c_uint64),
        ("f_ffree", ctypes.c_uint64),
        ("f_fsid", ctypes.c_int32 * 2),
        ("f_owner", ctypes.c_uint32),
        ("f_type", ctypes.c_uint32),
        ("f_flags", ctypes.c_uint32),
        ("f_fssubtype", ctypes.c_uint32),
        ("f_fstypename", ctypes.c_char * 16),
        ("f_mntonname", ctypes.c_char * 1024),
        ("f_mntfromname", ctypes.c_char * 1024),
        ("f_flags_ext", ctypes.c_uint32),
        ("f_reserved", ctypes.c_uint32 * 7),
    ]


def _macos_filesystem(path: Path) -> str | None:
    """``statfs`` through ctypes: ``f_fstypename`` is "msdos" for FAT, "exfat", "apfs"..."""
    libc = _libc()
    # Intel Macs export the 64-bit inode layout under this name; Apple silicon has only it.
    call = getattr(libc, "statfs$INODE64", None) or libc.statfs
    buf = _MacStatfs()
    if call(os.fsencode(os.path.realpath(path)), ctypes.byref(buf)) != 0:
        return None
    return buf.f_fstypename.decode("utf-8", "replace") or None


def _libc():
    return ctypes.CDLL(None, use_errno=True)


# --- Durable writes and reading the medium back --------------------------------------------


def full_fsync(fd: int) -> None:
    """Flush a file to the medium itself: on macOS ``fsync`` stops at the drive's cache,
    ``F_FULLFSYNC`` does not (a file system that refuses it gets ``fsync``)."""
    full = getattr(_fcntl(), "F_FULLFSYNC", None) if is_macos() else None
    if full is not None:
        try:
            _fcntl().fcntl(fd, full)
            return
        except OSError:
            pass
    os.fsync(fd)


def _fcntl():
    import fcntl

    return fcntl


def fsync_dir(path: Path, open_flags: int = 0) -> None:
    """Make a rename in ``path`` durable where the system allows it. Windows has no
    directory handle to fsync (NTFS journals the rename itself): nothing to do."""
    if is_windows():
        return
    try:
        fd = os.open(path, os.O_RDONLY | open_flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def drop_cache(fd: int, offset: int) -> bool:
    """Make the next reads of ``fd`` from ``offset`` on come from the medium, not from
    memory. False when this system offers no way to: the read-back then reads the
    system's cache, and says so.

    Linux: ``POSIX_FADV_DONTNEED`` (after the fsync the writer did). macOS: ``F_NOCACHE``
    on the descriptor. Windows bypasses its cache only for sector-aligned unbuffered
    reads (``FILE_FLAG_NO_BUFFERING``), which fiscalsafe does not do."""
    if hasattr(os, "posix_fadvise"):
        try:
            os.posix_fadvise(fd, offset, 0, os.POSIX_FADV_DONTNEED)
            return True
        except OSError:
            return False
    if is_macos():
        try:
            fcntl = _fcntl()
            fcntl.fcntl(fd, getattr(fcntl, "F_NOCACHE", 48), 1)
            return True
        except OSError:
            return False
    return False


def release_free_memory() -> bool:
    """Give the memory the process has freed back to the system, where the C library
    keeps it instead. False where there is nothing to call.

    glibc keeps what a thread frees in that thread's own arena: each backup of a medium
    starts its own hashing and reading threads, and the freed megabytes they leave added
    up to ~35 MB over seven backups (measured: 164 MB at the peak, 126 MB with a fixed
    mmap threshold). ``malloc_trim`` returns it; no Python library wraps it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # another C library (musl)
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
    return True


# --- Windows files ---------------------------------------------------------------------------


def is_sharing_violation(exc: BaseException) -> bool:
    """Another program (the shop application, an antivirus) holds the file open."""
    return getattr(exc, "winerror", None) in SHARING_VIOLATIONS


def replace_retrying(src: str | PurePath, dst: str | PurePath) -> None:
    """``os.replace``, retried briefly while another program holds either file open (an
    antivirus scanning the new file, an indexer): that usually lasts a moment. Any other
    error, or a violation that outlasts the retries, is raised."""
    for delay in (*RENAME_RETRIES, None):
        try:
            os.replace(src, dst)
            return
        except OSError as exc:
            if delay is None or not is_sharing_violation(exc):
                raise
            time.sleep(delay)


def restored_mode(mode: int) -> int:
    """The permission bits a restored file gets from the ``mode`` its manifest records.

    On Windows a mode without the owner's write bit sets the read-only attribute, which
    the shop application would then trip over: a restored file stays writable there."""
    mode &= 0o777
    return mode | stat.S_IWRITE if is_windows() else mode


def set_mode_and_time(path: Path, mode: int, mtime_ns: int) -> None:
    """chmod and utime on ``path`` itself, never through a link where the system can tell
    (Windows cannot: there a link was refused when the file was created)."""
    nofollow_chmod = os.chmod in os.supports_follow_symlinks
    nofollow_utime = os.utime in os.supports_follow_symlinks
    if nofollow_chmod:
        os.chmod(path, mode, follow_symlinks=False)
    else:
        os.chmod(path, mode)
    if nofollow_utime:
        os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
    else:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def restrict_to_owner(path: Path) -> str | None:
    """Make ``path`` readable by its owner only. None when done; else why not, in words.

    POSIX: the file was created 0600. Windows ignores those bits: the ACL is replaced
    (``icacls /inheritance:r /grant:r USER:F``) so that only the current user holds
    rights on it."""
    if not is_windows():
        return None
    from fiscalsafe.i18n import _  # i18n imports this module

    user = os.environ.get("USERNAME")
    if not user:
        return _("the current Windows user is unknown (USERNAME is not set)")
    domain = os.environ.get("USERDOMAIN")
    who = f"{domain}\\{user}" if domain else user
    command = ["icacls", str(path), "/inheritance:r", "/grant:r", f"{who}:F"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return _("icacls could not run ({error})", error=exc)
    if getattr(done, "returncode", 1) != 0:
        detail = " ".join(str(getattr(done, "stderr", "") or "").split()) or _("no detail")
        return _("icacls failed ({detail})", detail=detail)
    return None


# --- Paths -----------------------------------------------------------------------------------


def long_path(path: str | PurePath, windows: bool | None = None) -> str:
    """``path`` in a form Windows opens even beyond 260 characters: a path that long (once
    absolute) gets the ``\\\\?\\`` prefix (``\\\\?\\UNC\\`` for a share). Other
    systems, and shorter paths, get ``path`` as it is. ``windows`` overrides the check
    of the running system (for tests)."""
    text = str(path)
    if not (is_windows() if windows is None else windows) or text.startswith("\\\\?\\"):
        return text
    win = PureWindowsPath(text)
    if not win.is_absolute() and is_windows():
        win = PureWindowsPath(os.path.abspath(text))
    full = str(win)
    if len(full) < MAX_PATH or not win.is_absolute():
        return text
    if full.startswith("\\\\"):
        return "\\\\?\\UNC\\" + full[2:]
    return "\\\\?\\" + full


# --- Consoles ----------------------------------------------------------------------------------


def make_console_streams_safe() -> None:
    """Never let a character the console cannot show crash a command: stdout and stderr
    replace what their encoding lacks (a French console's cp850 has no "—")."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="replace")
