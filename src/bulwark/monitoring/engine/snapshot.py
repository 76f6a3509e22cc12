"""A compiled, immutable indicator snapshot.

Exact values (domains, addresses, URLs, hashes, e-mail addresses) are kept as two
independent 64-bit hashes per value in sorted numpy arrays: 16 bytes per indicator, no
Python object per value, so forked workers share the pages (reference counting never
touches them) and a 1 M indicator feed costs ~12 MB. The first (64-bit) hash is searched,
the second (32-bit, independent) confirms: a false match needs a 96-bit collision.
Domains are matched on label boundaries by looking up every suffix of the observed name
that still has a dot.
IPv4 prefixes are kept twice, compactly: as merged sorted integer ranges (the vectorised
pre-filter) and as a hash table of their canonical text (the authoritative match tries
the 33 prefix lengths of a hit address). IPv6 prefixes live in a pytricia radix trie.
A second, smaller table holds the last two labels of every domain indicator, so most
observed names are dismissed with one vectorised lookup before their suffixes are walked.
"""

import array
import contextlib
import ctypes
import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pytricia  # type: ignore[import-not-found]

from bulwark.core import observables
from bulwark.monitoring.engine import v4batch
from bulwark.monitoring.engine.indicators import Indicator

TABLES = ("domain", "addr", "url", "hash", "email")
_TABLE_OF = {
    "domain": "domain",
    "ipv4": "addr",
    "ipv6": "addr",
    "url": "url",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
    "email": "email",
}
_HASH_TYPES = {32: "md5", 40: "sha1", 64: "sha256"}
SMALL_BATCH = 8
# The 33 IPv4 prefix lengths, longest first, and the network mask of each.
_V4_LENGTHS = np.arange(32, -1, -1, dtype=np.int64)
_V4_MASKS = (~((np.int64(1) << (32 - _V4_LENGTHS)) - 1)) & 0xFFFFFFFF


def _second(value: bytes) -> int:
    """An independent 32-bit hash (signed): with the 64-bit first hash, 96 bits."""
    return ((hash(b"\x00" + value) & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


class HashTable:
    """Sorted (h1, h2) pairs; membership of bytes values, singly or in batches."""

    def __init__(self, first: "array.array[int]", second: "array.array[int]") -> None:
        h1 = np.frombuffer(first, dtype=np.int64) if len(first) else np.zeros(0, np.int64)
        h2 = np.frombuffer(second, dtype=np.int32) if len(second) else np.zeros(0, np.int32)
        order = np.lexsort((h2, h1))
        h1, h2 = h1[order], h2[order]
        if len(h1) > 1:
            keep = np.ones(len(h1), dtype=bool)
            keep[1:] = (h1[1:] != h1[:-1]) | (h2[1:] != h2[:-1])
            h1, h2 = h1[keep], h2[keep]
        self.h1: np.ndarray = np.ascontiguousarray(h1)
        self.h2: np.ndarray = np.ascontiguousarray(h2)

    def __len__(self) -> int:
        return len(self.h1)

    @property
    def nbytes(self) -> int:
        return int(self.h1.nbytes + self.h2.nbytes)

    def __contains__(self, value: bytes) -> bool:
        if not len(self.h1):
            return False
        q = hash(value)
        lo = int(np.searchsorted(self.h1, q, side="left"))
        if lo >= len(self.h1) or int(self.h1[lo]) != q:
            return False
        hi = int(np.searchsorted(self.h1, q, side="right"))
        return bool((self.h2[lo:hi] == _second(value)).any())

    def contains_many(self, values: list[bytes]) -> list[bytes]:
        """The values that are in the table (one vectorised search for the batch)."""
        if not values or not len(self.h1):
            return []
        q = np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
        idx = np.searchsorted(self.h1, q)
        idx[idx >= len(self.h1)] = 0
        candidates = np.flatnonzero(self.h1[idx] == q)
        return [values[i] for i in candidates.tolist() if values[i] in self]


@dataclass
class Snapshot:
    """Everything a worker needs to match, built once and never mutated (a new
    snapshot replaces it whole, which is what makes reloads atomic)."""

    tables: dict[str, HashTable]
    cidr6: pytricia.PyTricia
    meta: dict[tuple[str, bytes], list[tuple[str | None, int | None]]]
    counts: dict[str, int]
    refused: list[tuple[int, str]] = field(default_factory=list)
    compile_seconds: float = 0.0
    version: str = ""
    # len() of a PyTricia walks the whole trie: count once.
    n_cidr4: int = 0
    n_cidr6: int = 0
    # The union of the IPv4 prefixes as sorted ranges: the batch pre-filter.
    v4_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    v4_ends: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    parents: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # The IPv4 address indicators as sorted integers (the compiled pre-filter's table).
    v4_exact: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # The IPv4 prefixes exactly, as sorted integers network << 6 | length.
    cidr4: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # (values, bucket index) pairs for the compiled pre-filter (matcher._candidates_kernel)
    kernel_tables: tuple[tuple[np.ndarray, np.ndarray], ...] = ()

    # ----- building -------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        indicators: Iterable[Indicator],
        refused: Iterable[tuple[int, str]] = (),
        version: str = "",
    ) -> "Snapshot":
        started = time.perf_counter()
        first = {name: array.array("q") for name in TABLES}
        second = {name: array.array("i") for name in TABLES}
        parents = array.array("q")
        cidr6 = pytricia.PyTricia(128)
        meta: dict[tuple[str, bytes], list[tuple[str | None, int | None]]] = {}
        counts: dict[str, int] = {}
        range_starts = array.array("q")
        range_ends = array.array("q")
        v4_exact = array.array("q")
        cidr4 = array.array("q")
        for ind in indicators:
            counts[ind.type] = counts.get(ind.type, 0) + 1
            if ind.type == "cidr":
                text = ind.value.decode("ascii")
                if ":" in text:
                    cidr6[text] = 0
                else:
                    net, _, length = text.partition("/")
                    o1, o2, o3, o4 = (int(x) for x in net.split("."))
                    start = (o1 << 24) | (o2 << 16) | (o3 << 8) | o4
                    cidr4.append((start << 6) | int(length))
                    range_starts.append(start)
                    range_ends.append(start + (1 << (32 - int(length))) - 1)
                table = "cidr"
            else:
                table = _TABLE_OF[ind.type]
                first[table].append(hash(ind.value))
                second[table].append(_second(ind.value))
                if table == "domain":
                    parents.append(hash(_last_two(ind.value)))
                elif ind.type == "ipv4":
                    o1, o2, o3, o4 = (int(x) for x in ind.value.split(b"."))
                    v4_exact.append((o1 << 24) | (o2 << 16) | (o3 << 8) | o4)
            if ind.id is not None or ind.score is not None:
                meta.setdefault((table, ind.value), []).append((ind.id, ind.score))
        tables = {name: HashTable(first[name], second[name]) for name in TABLES}
        v4_starts, v4_ends = v4batch.merge_ranges(
            np.frombuffer(range_starts, dtype=np.int64)
            if len(range_starts)
            else np.zeros(0, np.int64),
            np.frombuffer(range_ends, dtype=np.int64) if len(range_ends) else np.zeros(0, np.int64),
        )
        del first, second, range_starts, range_ends
        parent_hashes = (
            np.unique(np.frombuffer(parents, dtype=np.int64))
            if len(parents)
            else np.zeros(0, np.int64)
        )
        snapshot = cls(
            tables=tables,
            cidr6=cidr6,
            meta=meta,
            counts=counts,
            refused=list(refused),
            compile_seconds=time.perf_counter() - started,
            version=version,
            n_cidr4=len(cidr4),
            cidr4=np.unique(np.frombuffer(cidr4, dtype=np.int64))
            if len(cidr4)
            else np.zeros(0, np.int64),
            n_cidr6=len(cidr6),
            parents=parent_hashes,
            v4_starts=v4_starts,
            v4_ends=v4_ends,
            v4_exact=np.unique(np.frombuffer(v4_exact, dtype=np.int64))
            if len(v4_exact)
            else np.zeros(0, np.int64),
        )
        snapshot.kernel_tables = _kernel_tables(snapshot)
        cls.release_memory()
        return snapshot

    @staticmethod
    def release_memory() -> None:
        """Hand the heap freed by a build (temporary arrays, parsed lines) back to the
        system: glibc keeps it otherwise, and RSS would count it for the process's life."""
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)

    @property
    def size(self) -> int:
        return sum(self.counts.values())

    # ----- authoritative matching of one observed value ---------------------------------
    def match_domain(self, raw: bytes) -> list[tuple[str, bytes]]:
        name = observables.domain(raw)
        if name is None:
            return []
        found: list[tuple[str, bytes]] = []
        table = self.tables["domain"]
        while b"." in name:
            if name in table:
                found.append(("domain", name))
            name = name[name.find(b".") + 1 :]
        return found

    def match_addr(self, raw: bytes) -> list[tuple[str, bytes]]:
        addr = observables.address(raw)
        if addr is None:
            return []
        found = self._match_canonical_addr(addr)
        if b":" in addr:
            inner = observables.mapped_v4(addr)
            if inner is not None:
                found += self._match_canonical_addr(inner)
        return found

    def _match_canonical_addr(self, addr: bytes) -> list[tuple[str, bytes]]:
        found: list[tuple[str, bytes]] = []
        v6 = b":" in addr
        if addr in self.tables["addr"]:
            found.append(("ipv6" if v6 else "ipv4", addr))
        if v6 and self.n_cidr6:
            prefix = self.cidr6.get_key(addr.decode("ascii"))
            while prefix is not None:
                found.append(("cidr", _v6_prefix_text(prefix)))
                prefix = self.cidr6.parent(prefix)
        elif not v6 and self.n_cidr4:
            o1, o2, o3, o4 = (int(x) for x in addr.split(b"."))
            value = (o1 << 24) | (o2 << 16) | (o3 << 8) | o4
            at = int(np.searchsorted(self.v4_starts, value, side="right")) - 1
            if at < 0 or value > int(self.v4_ends[at]):
                return found  # in no prefix at all (the merged ranges say so at once)
            # The 33 prefixes that could hold it, looked up in one vectorised search.
            keys = ((value & _V4_MASKS) << 6) | _V4_LENGTHS
            idx = np.minimum(np.searchsorted(self.cidr4, keys), len(self.cidr4) - 1)
            for key in keys[self.cidr4[idx] == keys].tolist():
                net, length = key >> 6, key & 63
                text = f"{net >> 24}.{(net >> 16) & 255}.{(net >> 8) & 255}.{net & 255}/{length}"
                found.append(("cidr", text.encode()))
        return found

    def match_host(self, raw: bytes) -> list[tuple[str, bytes]]:
        kind = observables.host(raw)
        if kind is None:
            return []
        return self.match_addr(kind[1]) if kind[0] == "addr" else self.match_domain(kind[1])

    def match_url(self, raw: bytes) -> list[tuple[str, bytes]]:
        canonical = observables.url(raw)
        if canonical is None or canonical not in self.tables["url"]:
            return []
        return [("url", canonical)]

    def match_hash(self, raw: bytes) -> list[tuple[str, bytes]]:
        digest = observables.file_hash(raw)
        if digest is None or digest not in self.tables["hash"]:
            return []
        return [(_HASH_TYPES[len(digest)], digest)]

    def match_email(self, raw: bytes) -> list[tuple[str, bytes]]:
        mail = observables.email(raw)
        if mail is None or mail not in self.tables["email"]:
            return []
        return [("email", mail)]

    def match(self, kind: str, raw: bytes) -> list[tuple[str, bytes]]:
        """Indicators (type, canonical value) that the raw field value of `kind` hits."""
        return _MATCHERS[kind](self, raw)

    # ----- batch pre-filter: which distinct raw values hit at all -----------------------
    def hits_among(self, kind: str, raws: Iterable[bytes]) -> set[bytes]:
        """The raw values (of a chunk, deduplicated) that hit some indicator. Equivalent to
        `[r for r in raws if self.match(kind, r)]`, but vectorised for large batches (a
        handful of values, e.g. the candidate lines of a chunk, is cheaper one by one)."""
        if not isinstance(raws, set | list | tuple | dict):
            raws = list(raws)
        if len(raws) <= SMALL_BATCH:
            match = _MATCHERS[kind]
            return {raw for raw in raws if match(self, raw)}
        if kind == "domain":
            return self._domains_among(raws)
        if kind == "host":
            values = list(set(raws))
            hit, v4 = self._addresses_among(values)
            names = [v for v, is_v4 in zip(values, v4.tolist(), strict=True) if not is_v4]
            hit |= self._domains_among(v for v in names if b":" not in v)
            hit.update(v for v in names if b":" in v and self.match_host(v))
            return hit
        if kind == "addr":
            return self._addresses_among(list(set(raws)))[0]
        match = _MATCHERS[kind]
        return {raw for raw in raws if match(self, raw)}

    def _addresses_among(self, values: list[bytes]) -> tuple[set[bytes], np.ndarray]:
        """Hits among distinct raw values, and which values are canonical IPv4."""
        hit = set(self.tables["addr"].contains_many(values))
        ints, is_v4 = v4batch.parse(values)
        inside = is_v4 & v4batch.inside(ints, self.v4_starts, self.v4_ends)
        hit.update(values[i] for i in np.flatnonzero(inside).tolist())
        for value, v4 in zip(values, is_v4.tolist(), strict=True):
            if not v4 and b":" in value and value not in hit and self.match_addr(value):
                hit.add(value)
        return hit, is_v4

    def _domains_among(self, raws: Iterable[bytes]) -> set[bytes]:
        table = self.tables["domain"]
        if not len(table):
            return set()
        names: list[bytes] = []
        owners_of: list[bytes] = []
        for raw in raws:
            name = raw.lower().rstrip(b".") if raw.isascii() else observables.domain(raw)
            if name is not None and len(name) <= observables.MAX_VALUE:
                names.append(name)
                owners_of.append(raw)
        if not names:
            return set()
        last_two = np.fromiter(map(hash, map(_last_two, names)), dtype=np.int64, count=len(names))
        idx = np.searchsorted(self.parents, last_two)
        idx[idx >= len(self.parents)] = 0
        keys: list[bytes] = []
        owners: list[bytes] = []
        for i in np.flatnonzero(self.parents[idx] == last_two).tolist():
            name, raw = names[i], owners_of[i]
            while True:
                dot = name.find(b".")
                if dot < 0:
                    break
                keys.append(name)
                owners.append(raw)
                name = name[dot + 1 :]
        if not keys:
            return set()
        position = {id(k): i for i, k in enumerate(keys)}
        return {owners[position[id(k)]] for k in table.contains_many(keys)}

    def describe(self, table: str, value: bytes) -> list[tuple[str | None, int | None]]:
        return self.meta.get((table, value), [(None, None)])


def _kernel_tables(snapshot: Snapshot) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The arrays the compiled pre-filter searches, each with its bucket index; empty
    when the extension is not built (the pure-Python passes need none of it)."""
    try:
        from bulwark.monitoring.engine._scan import bucket_index
    except ImportError:  # pragma: no cover - depends on the build
        return ()
    starts_index = bucket_index(snapshot.v4_starts, False)
    return (
        (snapshot.parents, bucket_index(snapshot.parents, True)),
        (snapshot.tables["domain"].h1, bucket_index(snapshot.tables["domain"].h1, True)),
        (snapshot.v4_exact, bucket_index(snapshot.v4_exact, False)),
        (snapshot.v4_starts, starts_index),
        (snapshot.v4_ends, starts_index),
    )


def _last_two(name: bytes) -> bytes:
    """`b.c` of `a.b.c` (the name itself when it has two labels or fewer)."""
    return name[name.rfind(b".", 0, name.rfind(b".")) + 1 :]


_MATCHERS = {
    "domain": Snapshot.match_domain,
    "addr": Snapshot.match_addr,
    "host": Snapshot.match_host,
    "url": Snapshot.match_url,
    "hash": Snapshot.match_hash,
    "email": Snapshot.match_email,
}


def _v6_prefix_text(prefix: str) -> bytes:
    """A prefix as the indicator holds it: pytricia writes an IPv4-mapped prefix with a
    dotted quad (`::ffff:0.0.0.0/96`) where the canonical form is `::ffff:0:0/96`."""
    if "." in prefix:
        prefix = str(ipaddress.ip_network(prefix))
    return prefix.encode("ascii")
