"""A directory of finished computations, keyed by the content they were computed from.

:func:`fingerprint` hashes everything a computation depends on into a key; :class:`FitCache`
stores one plain ``.npz`` file of arrays per key. Because the key is a hash of the inputs
(data, parameters, library versions), a changed input gives a new key: a stale entry can
never be served, it is simply never asked for again. Entries hold plain arrays only and
are read with ``allow_pickle=False``, so reading a cache never runs code.

Pure numpy and standard library.
"""

import hashlib
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .exceptions import DataError

__all__ = ["FitCache", "fingerprint"]

# Cache Directory Tagging Specification (https://bford.info/cachedir/): backup and
# archiving tools skip a directory holding this file.
CACHEDIR_TAG = "CACHEDIR.TAG"
#: The first line of every CACHEDIR.TAG (https://bford.info/cachedir/): what marks a cache folder.
CACHEDIR_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
_TAG_TEXT = (
    CACHEDIR_SIGNATURE + "\n"
    "# This file is a cache directory tag created by trajhmm (finished EM runs of HMMClassifier.fit).\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)
_KEY = re.compile(r"[0-9a-f]{64}\Z")
_ENTRY = re.compile(r"[0-9a-f]{64}\.npz\Z")
_TEMP = re.compile(r"[0-9a-f]{64}\.npz\.[A-Za-z0-9_]+\.tmp\Z")  # put's temp files
# What file browsers leave in any folder they show (Finder, Windows Explorer): no reason to
# refuse resuming from, or removing, a cache someone looked into.
_BROWSER_JUNK = (".DS_Store", "Thumbs.db", "desktop.ini")
_TAG_TEMP = re.compile(r"CACHEDIR\.TAG\.[A-Za-z0-9_]+\.tmp\Z")
# What numpy and zipfile raise on a truncated, corrupted or foreign entry.
_BAD_ENTRY = (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, zlib.error)


# ------------------------------------------------------------------ fingerprint
def _field(h, data):
    """One length-prefixed field: no field can run into the next."""
    h.update(len(data).to_bytes(8, "little"))
    h.update(data)


def _dtype_text(dtype):
    # dtype.str says '|V16' for every 16-byte record: records are described field by field
    return dtype.str if dtype.fields is None else repr(dtype.descr)


def _feed_array(h, tag, a):
    if a.dtype.hasobject:
        raise TypeError(f"fingerprint: cannot hash an array of dtype {a.dtype} (it holds Python objects)")
    h.update(tag)
    _field(h, _dtype_text(a.dtype).encode())
    _field(h, ",".join(str(n) for n in a.shape).encode())
    _field(h, np.ascontiguousarray(a).tobytes())


# Python scalars: (type, tag, encoding). bool before int (bool is an int); numpy scalars
# (np.float64 is a float) are handled before these.
_SCALARS = (
    (type(None), b"N", lambda v: b""),
    (bool, b"B", lambda v: b"1" if v else b"0"),
    (int, b"I", lambda v: hex(int(v)).encode()),
    (float, b"F", lambda v: repr(float(v)).encode()),
    (str, b"S", lambda v: v.encode("utf-8", "surrogatepass")),
    (bytes, b"Y", bytes),
)


def _feed(h, part):
    """Feed one part, tagged with its kind, into the hash ``h``."""
    if isinstance(part, np.ndarray):
        return _feed_array(h, b"A", part)
    if isinstance(part, np.generic):
        return _feed_array(h, b"G", np.asarray(part))
    for kind, tag, encode in _SCALARS:
        if isinstance(part, kind):
            h.update(tag)
            return _field(h, encode(part))
    if isinstance(part, (list, tuple)):
        h.update(b"L" if isinstance(part, list) else b"T")
        _field(h, str(len(part)).encode())
        for item in part:
            _feed(h, item)
        return None
    if isinstance(part, dict):
        return _feed_dict(h, part)
    raise TypeError(f"fingerprint: cannot hash a {type(part).__module__}.{type(part).__qualname__}")


def _feed_dict(h, part):
    # keys sorted by their encoding, so that keys of mixed types sort too
    items = []
    for key, value in part.items():
        kh = hashlib.sha256()
        _feed(kh, key)
        items.append((kh.digest(), key, value))
    h.update(b"D")
    _field(h, str(len(items)).encode())
    for _, key, value in sorted(items, key=lambda item: item[0]):
        _feed(h, key)
        _feed(h, value)


def fingerprint(*parts):
    """Hex SHA-256 of a canonical encoding of ``parts``.

    Parameters
    ----------
    *parts : ndarray, numpy scalar, list, tuple, dict, str, bytes, int, float, bool or None
        Arrays count by dtype, shape and values (C order), not by memory layout;
        containers by length and items (dicts by items, in any order); every item is
        tagged with its kind, so ``1``, ``1.0``, ``True``, ``"1"``, ``[1]`` and ``(1,)``
        all give different fingerprints.

    Returns
    -------
    key : str
        64 hexadecimal characters.

    Raises
    ------
    TypeError
        For any other kind of part (the message names its type), or an object array.
    """
    h = hashlib.sha256(b"trajhmm-fingerprint-1")
    _feed(h, list(parts))
    return h.hexdigest()


# ------------------------------------------------------------------ files
def _check_key(key):
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"cache key: expected 64 lowercase hexadecimal characters (a fingerprint), got {key!r}")
    return key


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_npz(file, arrays):
    """``arrays`` as an uncompressed npz archive (like ``np.savez``), refusing object arrays."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        for name, value in arrays.items():
            if not isinstance(name, str):
                raise TypeError(f"cache entry: array names must be str, got {name!r}")
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def _read_npz(path):
    loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an npz archive")
    with loaded:
        return {name: loaded[name] for name in loaded.files}


def _atomic_write(directory, name, write):
    """Write ``directory/name`` through a temp file in the same directory and one
    ``os.replace``: readers see the old file or the complete new one. On any exception
    (KeyboardInterrupt too) the temp file is removed."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, Path(directory) / name)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _entries_only(names):
    """The file names are cache entries and temp files only (file browsers' files aside)."""
    return all(any(r.match(n) for r in (_ENTRY, _TEMP, _TAG_TEMP)) for n in names if n not in _BROWSER_JUNK)


class FitCache:
    """Finished computations on disk, one ``KEY.npz`` of arrays per key.

    Keys are :func:`fingerprint` s of everything an entry was computed from, so an entry
    can only be found by the inputs it was computed from: a stale entry (other data,
    parameters or library versions) can never be served. Entries are plain npz archives
    read with ``allow_pickle=False``, no pickle, so a cache never runs code.

    Parameters
    ----------
    directory : str or Path
        Created on the first :meth:`put` (parents too), with a ``CACHEDIR.TAG`` file
        (https://bford.info/cachedir/) so backup tools skip it and :meth:`remove` knows
        the directory as its own.

    Notes
    -----
    Every entry is written to a temp file and renamed into place, so an interrupted
    :meth:`put` leaves no entry, and an entry that is nevertheless unreadable (a crash of
    the machine, a full disk) is deleted by :meth:`get` and reported as missing.
    """

    def __init__(self, directory):
        self.directory = Path(directory)

    def __repr__(self):
        return f"FitCache({str(self.directory)!r})"

    def _path(self, key):
        return self.directory / f"{_check_key(key)}.npz"

    def get(self, key):
        """The arrays stored under ``key`` (name -> ndarray, loaded into memory), or None
        when there is no such entry or it is unreadable (the bad entry is deleted)."""
        path = self._path(key)
        try:
            return _read_npz(path)
        except FileNotFoundError:
            return None
        except _BAD_ENTRY:
            _unlink_quietly(path)
            return None

    def unusable(self):
        """Why the directory cannot be this cache, or None when it can: it may be missing,
        empty, or a cache trajhmm made (its ``CACHEDIR.TAG`` and entries only). A folder
        holding anything else (a data folder, a user's notes) is not written into: its
        files would sit among the entries, and the tag would make backup tools skip it."""
        try:
            return self._unusable()
        except FileNotFoundError:  # removed meanwhile by another run with this directory: a new folder
            return self._unusable()

    def _unusable(self):
        if not self.directory.exists() and not self.directory.is_symlink():
            parent = self.directory.parent
            # as an output file's folder: not made here (mkdir would leave the parents behind)
            return None if parent.is_dir() else f"its folder {parent} does not exist"
        if self.directory.is_symlink():  # (never removed through a link either: _foreign_content)
            return "it is a symbolic link; give the folder it points to"
        if not self.directory.is_dir():
            return "it is not a folder"
        try:
            names = sorted(p.name for p in self.directory.iterdir())
        except OSError as exc:
            return f"it cannot be listed ({exc.strerror or exc})"
        if not set(names) - set(_BROWSER_JUNK):
            return None
        if CACHEDIR_TAG not in names:  # (a tag that is not trajhmm's is said by _foreign_content)
            names = [n for n in names if n not in _BROWSER_JUNK]
            if _entries_only(names):
                return None  # entries of another run that is removing the cache, or writing it anew
            shown = ", ".join(repr(n) for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            return f"it holds files trajhmm did not write ({shown})"
        reason = self._foreign_content()
        return None if reason is None else f"it has {reason}"

    def check(self, name="cache_dir"):
        """DataError (naming the directory and ``name``) unless :meth:`unusable` is None."""
        reason = self.unusable()
        if reason is not None:
            raise DataError(f"{self.directory}: {name}: expected a new or empty folder or a trajhmm cache, but "
                            f"{reason}")

    def put(self, key, arrays):
        """Store ``arrays`` (name -> array-like, no object arrays) under ``key``, atomically.

        Raises
        ------
        ValueError
            ``key`` is not 64 hex characters, or an array holds Python objects.
        DataError
            The directory is not usable as a cache (:meth:`unusable`), checked before its first entry.
        """
        path = self._path(key)
        for attempt in range(3):  # another run with the same cache may remove it meanwhile (it finished)
            if not (self.directory / CACHEDIR_TAG).exists():
                self.check()
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                if not (self.directory / CACHEDIR_TAG).exists():
                    _atomic_write(self.directory, CACHEDIR_TAG, lambda f: f.write(_TAG_TEXT.encode()))
                _atomic_write(self.directory, path.name, lambda f: _write_npz(f, arrays))
                return
            except FileNotFoundError:  # our temp file, or the folder, removed under us: write it anew
                if attempt == 2:
                    raise

    def __contains__(self, key):
        return isinstance(key, str) and bool(_KEY.match(key)) and self._path(key).is_file()

    def __len__(self):
        if not self.directory.is_dir():
            return 0
        return sum(1 for p in self.directory.iterdir() if _ENTRY.match(p.name))

    def _foreign_content(self):
        """Why the directory is not a trajhmm cache that may be deleted, or None."""
        tag = self.directory / CACHEDIR_TAG
        if self.directory.is_symlink() or not tag.is_file() or tag.is_symlink():
            return f"no {CACHEDIR_TAG} written by trajhmm"
        try:
            if tag.read_bytes() != _TAG_TEXT.encode():
                return f"a {CACHEDIR_TAG} not written by trajhmm"
        except OSError as exc:
            return f"an unreadable {CACHEDIR_TAG} ({exc})"
        for p in sorted(self.directory.iterdir()):
            ours = p.name in (CACHEDIR_TAG, *_BROWSER_JUNK) or any(r.match(p.name) for r in (_ENTRY, _TEMP, _TAG_TEMP))
            if ours and not p.exists() and not p.is_symlink():
                continue  # a temp file another run renamed, or an entry it removed, since the listing
            if not ours or p.is_symlink() or not p.is_file():
                return f"the unexpected {'file' if p.is_file() else 'entry'} {p.name!r}"
        return None

    def remove(self):
        """Delete the cache directory and its entries; nothing when it does not exist.

        Only a directory this class made is deleted: it must hold the ``CACHEDIR.TAG``
        trajhmm writes and nothing but cache entries and leftover temp files. Anything
        else, and nothing is deleted. Another run using the same directory (two runs
        writing one model file) may remove it too, or write into it meanwhile: what is gone
        is not an error, and a directory written into after the listing is left to it, as
        is a directory of cache entries whose tag is gone (that run is removing it).

        Raises
        ------
        DataError
            The directory is not a trajhmm cache or holds other files (the message names
            the directory and what was found).
        """
        try:
            self._remove()
        except FileNotFoundError:  # removed meanwhile by another run with this directory
            pass

    def _remove(self):
        if not self.directory.exists() and not self.directory.is_symlink():
            return
        is_dir = self.directory.is_dir() and not self.directory.is_symlink()
        reason = self._foreign_content() if self.directory.is_dir() else "it is not a directory"
        if reason is not None and is_dir and _entries_only([p.name for p in self.directory.iterdir()]):
            return  # its tag removed meanwhile by another run with this directory: that run removes the rest
        if reason is not None:
            raise DataError(f"{self.directory}: not removed as a trajhmm cache directory: {reason}")
        for p in self.directory.iterdir():
            if p.name != CACHEDIR_TAG:
                _unlink_quietly(p)  # (gone already: another run with this cache removed it)
        _unlink_quietly(self.directory / CACHEDIR_TAG)
        try:
            self.directory.rmdir()
        except OSError:  # gone already, or another run with this cache wrote an entry since the listing
            pass
