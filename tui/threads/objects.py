"""Follow an attribute chain through a live CPython process's memory: one lock reached under two names is one lock.

Why: py-spy's `--locals` gives each local's address, so `self._lock` in a Registry method is "`_lock` of the
object at 0xaaa", but `self.registry._lock` in an Exporter method is "`registry._lock` of 0xbbb": the same lock
under another name, and a lock-order cycle through it goes unseen. Reading the attribute `registry` out of
0xbbb's instance dict gives 0xaaa, and the two meet. The answer is stored in the LockRef at collection time,
so the analysis stays pure and a replayed snapshot gives the same findings.

Reading /proc/PID/mem needs the ptrace right py-spy already needs. Only the layouts tested here are read:
CPython 3.11, 3.12 and 3.13 (`LAYOUTS`), 64-bit little-endian, instance attributes in a managed dict (the
class's shared keys with the instance's values, or a real dict) or a dict at a positive `tp_dictoffset`.
Where each version keeps the managed values differs (a pointer before the object in 3.11, a tagged pointer in
3.12, inline after the object header in 3.13); the rest of the path is the same code with that version's
offsets. Bounded (few reads, capped sizes) and suspicious of every byte: the process is live and may change
under us, so any read that fails or does not look like what the layout says gives None, and the lock keeps
the identity of its name.
"""

from __future__ import annotations

import os
import platform
import re
import struct
import sys
from dataclasses import dataclass, replace

from tui.threads.records import Frame, LockRef, ThreadRecord

_MACHINES = {"x86_64", "aarch64"}
MAX_READS = 4000  # per process and look: one attribute is about ten small reads
MAX_ENTRIES = 512  # dict entries read at most per lookup (an instance dict rarely has more than a few dozen)
MAX_CHAIN = 5  # attributes followed at most: `self.app.metrics.registry._lock`
MAX_METACLASS_DEPTH = 4  # a class's metaclass chain (ABCMeta, then type) read at most this deep
MAX_TYPE_NAME = 100  # bytes of a type's name
_PAGE = 4096
_CHAIN = re.compile(r"^([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)+)$", re.ASCII)
_TYPE_NAME = re.compile(rb"^[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class Layout:
    """What differs between the CPython versions read here (Include/cpython/object.h, internal/pycore_object.h,
    internal/pycore_dict.h, cpython/unicodeobject.h); every offset checked with offsetof() against that
    version's headers (3.11.7, 3.12.1, 3.13.0, compiled with Py_BUILD_CORE for the internal ones)."""

    managed_values: str  # where a managed-dict instance keeps its values: "pointer", "tagged" or "inline"
    ht_cached_keys: int  # PyHeapTypeObject: the shared keys of the class's instances
    values_array: int  # offsetof(PyDictValues, values): 3.13 puts capacity, size, embedded, valid bytes first
    ascii_header: int  # sizeof(PyASCIIObject): a compact ASCII string's characters follow it (3.12 dropped wstr)


LAYOUTS = {
    "3.11": Layout(managed_values="pointer", ht_cached_keys=872, values_array=0, ascii_header=48),
    "3.12": Layout(managed_values="tagged", ht_cached_keys=880, values_array=0, ascii_header=40),
    "3.13": Layout(managed_values="inline", ht_cached_keys=880, values_array=8, ascii_header=40),
}

# The same in 3.11, 3.12 and 3.13 (64-bit, default build: not the free-threaded one, which moves the dict).
_OB_TYPE, _OBJECT_SIZE = 8, 16  # ob_refcnt, ob_type: sizeof(PyObject)
_TP_NAME, _TP_FLAGS, _TP_DICTOFFSET = 24, 168, 288
_MANAGED_DICT = -24  # the managed dict (3.12: dict or tagged values) at obj-3 words
_MANAGED_VALUES = -32  # 3.11: the values pointer at obj-4 words (3.12 and 3.13 keep the weakref list there)
_MA_KEYS, _MA_VALUES = 32, 40  # PyDictObject
_DK_HEADER = 32  # dk_refcnt, dk_log2_size, dk_log2_index_bytes, dk_kind, dk_version, dk_usable, dk_nentries
_DICT_KEYS_GENERAL, _DICT_KEYS_UNICODE, _DICT_KEYS_SPLIT = 0, 1, 2
_ASCII_LENGTH, _ASCII_STATE = 16, 32  # PyASCIIObject.length, .state
_STATE_COMPACT_ASCII = 0x60  # PyASCIIObject.state: compact (bit 5) and ascii (bit 6)
_TPFLAGS_INLINE_VALUES = 1 << 2  # 3.13
_TPFLAGS_MANAGED_DICT = 1 << 4
_TPFLAGS_HEAPTYPE = 1 << 9
_TPFLAGS_UNICODE_SUBCLASS = 1 << 28
_TPFLAGS_DICT_SUBCLASS = 1 << 29
_TPFLAGS_TYPE_SUBCLASS = 1 << 31
_LARGEST_ADDRESS = 1 << 48  # user space on x86_64/aarch64 (4-level pages)


class _Unreadable(Exception):
    """A read failed or what it read does not fit the layout: give up on this chain."""


class ObjectReader:
    """Reads the objects of one process of a CPython version in LAYOUTS; each answer is None when it cannot be
    read with confidence."""

    def __init__(self, pid: int, version: str) -> None:
        self._layout = LAYOUTS[version]
        self._fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)  # OSError without the ptrace right: the caller falls back
        self._reads = 0
        self._types: dict[int, tuple[str, int, int]] = {}  # type address -> (name, flags, dictoffset)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def type_name(self, addr: int) -> str | None:
        try:
            return self._type(self._ob_type(addr))[0]
        except _Unreadable:
            return None

    def attribute(self, addr: int, name: str) -> int | None:
        """The address of `obj.name` where it is in the instance's own dict (not a property, slot or class
        attribute: those give None)."""
        if not name.isascii():
            return None  # the reader compares compact ASCII keys only
        try:
            return self._attribute(addr, name)
        except _Unreadable:
            return None

    def _read(self, addr: int, size: int) -> bytes:
        if self._reads >= MAX_READS or not 0 < addr < _LARGEST_ADDRESS:
            raise _Unreadable
        self._reads += 1
        try:
            data = os.pread(self._fd, size, addr)
        except (OSError, OverflowError, ValueError):
            raise _Unreadable from None
        if len(data) != size:
            raise _Unreadable
        return data

    def _word(self, addr: int) -> int:
        return struct.unpack("<Q", self._read(addr, 8))[0]

    def _pointer(self, addr: int) -> int:
        """A non-NULL, aligned pointer read at `addr`."""
        value = self._word(addr)
        if value == 0 or value % 8 or value >= _LARGEST_ADDRESS:
            raise _Unreadable
        return value

    def _ob_type(self, addr: int) -> int:
        if addr % 8:
            raise _Unreadable
        refcnt, type_addr = struct.unpack("<qQ", self._read(addr, 16))
        if refcnt <= 0 or type_addr == 0 or type_addr % 8:
            raise _Unreadable
        return type_addr

    def _type(self, type_addr: int, depth: int = 0) -> tuple[str, int, int]:
        """Name, flags and dict offset of a type object, which must itself be an instance of a type (its
        metaclass chain ends at `type`, its own type, within a few steps)."""
        if type_addr not in self._types:
            if depth > MAX_METACLASS_DEPTH or type_addr % 8:
                raise _Unreadable
            header = self._read(type_addr, _TP_DICTOFFSET + 8)
            metatype = struct.unpack_from("<Q", header, _OB_TYPE)[0]
            name_addr = struct.unpack_from("<Q", header, _TP_NAME)[0]
            flags = struct.unpack_from("<Q", header, _TP_FLAGS)[0]
            dictoffset = struct.unpack_from("<q", header, _TP_DICTOFFSET)[0]
            if not self._flags_of(metatype, type_addr, depth) & _TPFLAGS_TYPE_SUBCLASS:
                raise _Unreadable
            name = self._c_string(name_addr, MAX_TYPE_NAME)
            if not _TYPE_NAME.match(name):
                raise _Unreadable
            self._types[type_addr] = (name.decode("ascii"), flags, dictoffset)
        return self._types[type_addr]

    def _flags_of(self, metatype: int, type_addr: int, depth: int) -> int:
        if metatype == type_addr:  # `type` is its own type
            return struct.unpack("<Q", self._read(type_addr + _TP_FLAGS, 8))[0]
        return self._type(metatype, depth + 1)[1]

    def _c_string(self, addr: int, limit: int) -> bytes:
        """A NUL-terminated string of at most `limit` bytes, read without crossing into a page it does not use."""
        first = min(limit, _PAGE - addr % _PAGE)
        data = self._read(addr, first)
        if b"\0" not in data and first < limit:
            data += self._read(addr + first, limit - first)
        if b"\0" not in data:
            raise _Unreadable
        return data.split(b"\0", 1)[0]

    def _attribute(self, addr: int, name: str) -> int | None:
        type_addr = self._ob_type(addr)
        _, flags, dictoffset = self._type(type_addr)
        if flags & _TPFLAGS_MANAGED_DICT:
            values, dict_addr = self._managed(addr, flags)
            if values:  # the instance's own values, keyed by the class's shared keys
                if not flags & _TPFLAGS_HEAPTYPE or values % 8:
                    raise _Unreadable
                keys = self._pointer(type_addr + self._layout.ht_cached_keys)
                return self._lookup(keys, values, name, split=True)
        elif dictoffset > 0:
            dict_addr = self._word(addr + dictoffset)
        else:
            raise _Unreadable  # __slots__, or a dict at the end of a variable-size object: not read
        if dict_addr == 0:
            return None  # no attribute set yet
        return self._dict_item(dict_addr, name)

    def _managed(self, addr: int, flags: int) -> tuple[int, int]:
        """(values, 0) while the instance keeps its attributes as values for the class's shared keys, else
        (0, its managed dict, or 0 when none was made yet)."""
        kept = self._layout.managed_values
        if kept == "pointer":  # 3.11: the values pointer at obj-4 words, NULL once a dict took over
            values = self._word(addr + _MANAGED_VALUES)
            return (values, 0) if values else (0, self._word(addr + _MANAGED_DICT))
        if kept == "tagged":  # 3.12: one word at obj-3 (PyDictOrValues), the values when its low bit is set
            word = self._word(addr + _MANAGED_DICT)
            return (word + 1, 0) if word & 1 else (0, word)
        if flags & _TPFLAGS_INLINE_VALUES:  # 3.13: inline after the header while valid, else in the dict at obj-3
            _capacity, _size, embedded, valid = self._read(addr + _OBJECT_SIZE, 4)
            if embedded != 1 or valid not in (0, 1):
                raise _Unreadable
            if valid:
                return addr + _OBJECT_SIZE, 0
        return 0, self._word(addr + _MANAGED_DICT)

    def _dict_item(self, dict_addr: int, name: str) -> int | None:
        if not self._type(self._ob_type(dict_addr))[1] & _TPFLAGS_DICT_SUBCLASS:
            raise _Unreadable
        keys = self._pointer(dict_addr + _MA_KEYS)
        values = self._word(dict_addr + _MA_VALUES)
        return self._lookup(keys, values, name, split=bool(values))

    def _lookup(self, keys: int, values: int, name: str, split: bool) -> int | None:
        """The value stored under the str `name`: a linear pass over the (few) entries, comparing characters,
        since the target's string hashes are salted with its own seed."""
        header = self._read(keys, _DK_HEADER)
        log2_size, log2_index_bytes, kind = header[8], header[9], header[10]
        nentries = struct.unpack_from("<q", header, 24)[0]
        index_bytes = 0 if log2_size < 8 else 1 if log2_size < 16 else 2 if log2_size < 32 else 3  # new_keys_object()
        if (not 3 <= log2_size <= 30 or log2_index_bytes != log2_size + index_bytes
                or not 0 <= nentries <= min(MAX_ENTRIES, (2 << log2_size) // 3)
                or kind not in (_DICT_KEYS_GENERAL, _DICT_KEYS_UNICODE, _DICT_KEYS_SPLIT)
                or split != (kind == _DICT_KEYS_SPLIT)):
            raise _Unreadable
        if nentries == 0:
            return None
        entry_size = 24 if kind == _DICT_KEYS_GENERAL else 16  # PyDictKeyEntry (with the hash) or PyDictUnicodeEntry
        entries = self._read(keys + _DK_HEADER + (1 << log2_index_bytes), nentries * entry_size)
        wanted = name.encode("ascii")
        for index in range(nentries):
            key, value = struct.unpack_from("<QQ", entries, index * entry_size + (8 if entry_size == 24 else 0))
            if key == 0 or not self._is_str(key, wanted):
                continue
            if split:
                value = self._split_value(values, index)
            if value == 0:
                return None  # a shared key this instance has not set
            if value % 8:
                raise _Unreadable
            return value
        return None

    def _split_value(self, values: int, index: int) -> int:
        """values[index] of a PyDictValues; 3.13's header gives its capacity, which the index must be below."""
        array = self._layout.values_array
        if array and index >= self._read(values, 1)[0]:
            raise _Unreadable
        return self._word(values + array + 8 * index)

    def _is_str(self, addr: int, wanted: bytes) -> bool:
        """The object at `addr` is a compact ASCII str equal to `wanted` (its characters read only when the
        length matches)."""
        header_size = self._layout.ascii_header
        header = self._read(addr, header_size)
        type_addr = struct.unpack_from("<Q", header, _OB_TYPE)[0]
        if not self._type(type_addr)[1] & _TPFLAGS_UNICODE_SUBCLASS:
            return False
        length = struct.unpack_from("<q", header, _ASCII_LENGTH)[0]
        state = struct.unpack_from("<I", header, _ASCII_STATE)[0]
        if length != len(wanted) or state & _STATE_COMPACT_ASCII != _STATE_COMPACT_ASCII:
            return False  # a non-ASCII key cannot equal an ASCII name
        return self._read(addr + header_size, len(wanted) + 1) == wanted + b"\0"


def layout_known(version: str) -> bool:
    """This module can read the process's objects: a CPython version whose layout it knows, on this machine's
    64-bit little-endian architecture."""
    return version in LAYOUTS and platform.machine() in _MACHINES and sys.byteorder == "little"


def resolve_lock_chains(pid: int, version: str, threads: list[ThreadRecord]) -> None:
    """Give every lock named through attributes (`self._lock`, `self.registry._lock`) the lock object itself and
    the object its last attribute hangs on (the Registry), read from memory; unread ones stay as they are
    (identity by name)."""
    if not layout_known(version):
        return
    try:
        reader = ObjectReader(pid, version)
    except OSError:
        return  # another user's process without the right, or gone
    found: dict[tuple[int, str], tuple[int, str] | None] = {}
    with reader:
        for thread in threads:
            for frame in thread.frames:
                if frame.waits is not None:
                    frame.waits = _resolved(reader, frame, frame.waits, found)
                frame.held = [_resolved(reader, frame, ref, found) for ref in frame.held]


def _resolved(reader: ObjectReader, frame: Frame, ref: LockRef,
              found: dict[tuple[int, str], tuple[int, str] | None]) -> LockRef:
    """`ref` with the lock object and the object it hangs on (a new LockRef: source contexts share theirs)."""
    match = _CHAIN.match(ref.expr)
    if match is None or ref.module_level:
        return ref
    attributes = match.group(2).split(".")[1:]  # `self.registry._lock`: registry, _lock
    root = next((v.addr for v in frame.locals if v.name == match.group(1) and v.addr), 0)
    if not root or len(attributes) > MAX_CHAIN:
        return ref

    def follow(path: list[str]) -> tuple[int, str] | None:
        key = (root, ".".join(path))
        if key not in found:
            found[key] = _follow(reader, root, path)
        return found[key]

    owner = follow(attributes[:-1]) if len(attributes) > 1 else None
    lock = follow(attributes)
    if lock is not None:
        ref = replace(ref, lock_addr=lock[0])
    if owner is not None:
        ref = replace(ref, object_addr=owner[0], object_type=owner[1])
    return ref


def _follow(reader: ObjectReader, addr: int, path: list[str]) -> tuple[int, str] | None:
    for name in path:
        addr = reader.attribute(addr, name)
        if addr is None:
            return None
    kind = reader.type_name(addr)
    return (addr, kind) if kind is not None else None
