# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled pre-filter for JSON-lines logs: one pass over a chunk, no Python object
per line.

For every line it reads the strings of the configured keys (a key matches by its full
dotted path or by its last part, so nested and flat Zeek JSON both work) and looks the
common values up in the snapshot's arrays directly:

- canonical dotted-quad IPv4 addresses: the sorted exact-address and merged-prefix arrays;
- plain ASCII host names: the table of last-two-label hashes, then every suffix that still
  has a dot in the domain hash table. The hashes are CPython's own `hash(bytes)`
  (`_Py_HashBytes`), so the arrays built in Python are searched as they are.

Anything else (IPv6, IDN, URLs, hashes, e-mail addresses, odd characters) is handed back
as (key index, value, line start) for the Python batch checks. A line is flagged for the
authoritative parser when a value may hit, when it contains an escape, when it is longer
than the limit, or when it does not look like one JSON object. The filter may flag too
much, never too little: the parser decides.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memchr, memcmp

cdef extern from "Python.h":
    Py_hash_t _Py_HashBytes(const void *src, Py_ssize_t len)

DEF MAX_KEYS = 64
DEF NAME_MAX = 1024
DEF BUCKETS = 65536

# kind codes, as in scan_json's key list
DEF K_DOMAIN = 0
DEF K_ADDR = 1
DEF K_HOST = 2
DEF K_OTHER = 3

cdef unsigned char LDH[256]
cdef unsigned char LOWER[256]
cdef int _i
for _i in range(256):
    LOWER[_i] = _i + 32 if 65 <= _i <= 90 else _i
    LDH[_i] = 1 if (48 <= _i <= 57 or 65 <= _i <= 90 or 97 <= _i <= 122 or _i == 45 or _i == 46 or _i == 95) else 0


ctypedef struct Arr:
    const int64_t *p
    Py_ssize_t n
    const int32_t *index  # 65537 bucket starts: the slice of p a key can be in
    int shift
    bint signed_hash


ctypedef struct Tables:
    Arr parents
    Arr domains
    Arr v4_exact
    Arr v4_starts
    Arr v4_ends


cdef inline Arr _arr(tuple pair, bint signed_hash) except *:
    cdef const int64_t[::1] values = pair[0]
    cdef const int32_t[::1] index = pair[1]
    cdef Arr a
    if index.shape[0] != BUCKETS + 1:
        raise ValueError("bucket index of the wrong size")
    a.n = values.shape[0]
    a.p = &values[0] if a.n else NULL
    a.index = &index[0]
    a.signed_hash = signed_hash
    a.shift = 48 if signed_hash else 16
    return a


cdef inline Py_ssize_t _bucket(Arr *arr, int64_t q) noexcept nogil:
    if arr.signed_hash:
        return <Py_ssize_t> ((<uint64_t> q ^ 0x8000000000000000ULL) >> 48)
    return <Py_ssize_t> ((q >> 16) & 0xFFFF)


cdef inline bint _has(Arr *arr, int64_t q) noexcept nogil:
    cdef Py_ssize_t bucket = _bucket(arr, q)
    cdef Py_ssize_t lo = arr.index[bucket], hi = arr.index[bucket + 1], mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if arr.p[mid] < q:
            lo = mid + 1
        else:
            hi = mid
    return lo < arr.index[bucket + 1] and arr.p[lo] == q


cdef inline bint _in_ranges(Arr *starts, Arr *ends, int64_t q) noexcept nogil:
    cdef Py_ssize_t bucket = _bucket(starts, q)
    cdef Py_ssize_t lo = starts.index[bucket], hi = starts.index[bucket + 1], mid
    while lo < hi:  # the first start > q; the range before it may hold q
        mid = (lo + hi) >> 1
        if starts.p[mid] <= q:
            lo = mid + 1
        else:
            hi = mid
    return lo > 0 and q <= ends.p[lo - 1]


def bucket_index(values, bint signed_hash):
    """Where each of the 65536 buckets of a sorted int64 array starts (plus the end):
    hashes are bucketed by their top 16 bits, IPv4 integers by their first two octets,
    so a lookup searches a few entries instead of the whole array."""
    import numpy as np

    keys = np.asarray(values, dtype=np.int64)
    if signed_hash:
        keys = (keys.view(np.uint64) ^ np.uint64(0x8000000000000000)) >> np.uint64(48)
    else:
        keys = keys >> 16
    return np.searchsorted(keys, np.arange(BUCKETS + 1)).astype(np.int32)


cdef inline int64_t _ipv4(const unsigned char *s, Py_ssize_t n) noexcept nogil:
    """The address of a canonical dotted quad (no leading zeros); -1 when the text is
    not only digits and dots; -2 when it is, but is not a canonical dotted quad."""
    cdef int64_t value = 0, octet = 0
    cdef int digits = 0, dots = 0
    cdef bint bad = False
    cdef Py_ssize_t i
    cdef unsigned char c
    for i in range(n):
        c = s[i]
        if 48 <= c <= 57:
            if digits > 0 and octet == 0:
                bad = True  # leading zero
            if digits < 3:
                octet = octet * 10 + (c - 48)
            else:
                bad = True
            digits += 1
        elif c == 46:
            if digits == 0 or octet > 255:
                bad = True
            value = (value << 8) | (octet & 255)
            dots += 1
            octet = 0
            digits = 0
        else:
            return -1
    if bad or dots != 3 or digits == 0 or octet > 255:
        return -2
    return (value << 8) | octet


cdef bint _domain_hits(Tables *t, const unsigned char *s, Py_ssize_t n) noexcept:
    """True when the lower-cased name or one of its suffixes with a dot is a domain
    indicator (by 64-bit hash: the parser confirms)."""
    cdef unsigned char name[NAME_MAX]
    cdef Py_ssize_t i, last, second, start
    if t.domains.n == 0:
        return False
    while n > 0 and s[n - 1] == 46:
        n -= 1
    for i in range(n):
        name[i] = LOWER[s[i]]
    last = -1
    second = -1
    for i in range(n - 1, -1, -1):
        if name[i] == 46:
            if last < 0:
                last = i
            else:
                second = i
                break
    if last < 0:
        return False  # no dot: no suffix is looked up
    start = second + 1
    if not _has(&t.parents, _Py_HashBytes(name + start, n - start)):
        return False
    start = 0
    while True:
        if _has(&t.domains, _Py_HashBytes(name + start, n - start)):
            return True
        while start < n and name[start] != 46:
            start += 1
        start += 1
        if start >= n or memchr(name + start, 46, n - start) == NULL:
            return False


cdef int _value(Tables *t, int kind, const unsigned char *s, Py_ssize_t n) noexcept:
    """1: may hit; 0: cannot hit; -1: hand it to Python."""
    cdef int64_t v
    cdef Py_ssize_t i
    if n == 0:
        return 0
    if kind == K_OTHER:
        return -1
    if kind == K_ADDR or kind == K_HOST:
        v = _ipv4(s, n)
        if v >= 0:
            return 1 if (_has(&t.v4_exact, v) or _in_ranges(&t.v4_starts, &t.v4_ends, v)) else 0
        if kind == K_ADDR:
            return 0 if v == -2 else -1
    if n > NAME_MAX:
        return -1
    for i in range(n):
        if not LDH[s[i]]:
            return -1
    return 1 if _domain_hits(t, s, n) else 0


cdef inline int _cached_value(
    Tables *t, int key, int kind, const unsigned char *s, Py_ssize_t n,
    const unsigned char **last_ptr, Py_ssize_t *last_len, int *last_verdict,
) noexcept:
    """_value, remembering the last value of each key: logs repeat themselves (the same
    resolver, client or name line after line), and a memcmp is cheaper than a lookup."""
    cdef int verdict
    if last_len[key] == n and last_ptr[key] != NULL and memcmp(last_ptr[key], s, n) == 0:
        return last_verdict[key]
    verdict = _value(t, kind, s, n)
    last_ptr[key] = s
    last_len[key] = n
    last_verdict[key] = verdict
    return verdict


cdef inline Py_ssize_t _skip_ws(const unsigned char *b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    while p < e and (b[p] == 32 or b[p] == 9 or b[p] == 13):
        p += 1
    return p


cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    /* Index of the first '"' or '\\' in b[a:e], or e: eight bytes per step (SWAR; the
       lowest flagged byte of the classic has-zero-byte test is exact on little-endian
       machines, and a big-endian build takes the plain loop). */
    static inline Py_ssize_t bulwark_quote_or_backslash(const unsigned char *b, Py_ssize_t a, Py_ssize_t e) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        while (a + 8 <= e) {
            uint64_t v, q, s, found;
            memcpy(&v, b + a, 8);
            q = v ^ (ones * 0x22);
            s = v ^ (ones * 0x5c);
            found = ((q - ones) & ~q & highs) | ((s - ones) & ~s & highs);
            if (found) return a + (__builtin_ctzll(found) >> 3);
            a += 8;
        }
    #endif
        while (a < e && b[a] != 0x22 && b[a] != 0x5c) a++;
        return a;
    }
    """
    Py_ssize_t bulwark_quote_or_backslash(const unsigned char *b, Py_ssize_t a, Py_ssize_t e) noexcept nogil


cdef inline Py_ssize_t _string_end(const unsigned char *b, Py_ssize_t a, Py_ssize_t e) noexcept nogil:
    """Index of the closing quote of a string starting at a; -1 when it is unterminated
    or holds an escape (the parser must read such lines)."""
    a = bulwark_quote_or_backslash(b, a, e)
    if a < e and b[a] == 34:
        return a
    return -1


def scan_json(
    const unsigned char[::1] buf,
    list keys,
    tuple tables,
    Py_ssize_t max_line,
):
    """(lines, [(line index, line start)] flagged, [(key index, value, line index,
    line start)] for Python). Line indexes count from 0; lines is the number of lines
    (a last line without a newline counts).

    keys: [(full key, last part of the key, kind code)] with kind codes 0 domain,
    1 address, 2 host (address or name), 3 other. tables: (values, bucket index) pairs
    for the last-two-label hashes, the domain hashes, the IPv4 addresses, and the
    starts and ends of the merged IPv4 prefixes (the values all sorted)."""
    cdef Tables t
    t.parents = _arr(tables[0], True)
    t.domains = _arr(tables[1], True)
    t.v4_exact = _arr(tables[2], False)
    t.v4_starts = _arr(tables[3], False)
    t.v4_ends = _arr(tables[4], False)  # read at the index found in v4_starts
    cdef Py_ssize_t nkeys = len(keys)
    if nkeys > MAX_KEYS:
        raise ValueError("too many keys")
    cdef const unsigned char *full_ptr[MAX_KEYS]
    cdef Py_ssize_t full_len[MAX_KEYS]
    cdef const unsigned char *leaf_ptr[MAX_KEYS]
    cdef Py_ssize_t leaf_len[MAX_KEYS]
    cdef int kind_of[MAX_KEYS]
    cdef const unsigned char *last_ptr[MAX_KEYS]
    cdef Py_ssize_t last_len[MAX_KEYS]
    cdef int last_verdict[MAX_KEYS]
    cdef bytes full, leaf
    cdef Py_ssize_t k
    cdef unsigned char key_length[NAME_MAX]  # 1 where some key has that length
    for k in range(NAME_MAX):
        key_length[k] = 0
    for k in range(nkeys):
        full, leaf, kind = keys[k]
        full_ptr[k] = full
        full_len[k] = len(full)
        leaf_ptr[k] = leaf
        leaf_len[k] = len(leaf)
        kind_of[k] = kind
        last_ptr[k] = NULL
        last_len[k] = -1
        last_verdict[k] = 0
        if full_len[k] >= NAME_MAX or leaf_len[k] >= NAME_MAX:
            raise ValueError("key too long")
        key_length[full_len[k]] = 1
        key_length[leaf_len[k]] = 1

    cdef const unsigned char *b = &buf[0] if buf.shape[0] else NULL
    cdef Py_ssize_t n = buf.shape[0]
    cdef Py_ssize_t pos = 0, e, p, a, z, s, last, klen, key, line = -1
    cdef const unsigned char *nl
    cdef bint flag, listed
    cdef int verdict
    flagged = []
    others = []
    while pos < n:
        nl = <const unsigned char *> memchr(b + pos, 10, n - pos)
        e = (nl - b) if nl != NULL else n
        s = pos
        pos = e + 1
        line += 1
        # trim: blank lines are skipped by the parser
        p = _skip_ws(b, s, e)
        last = e
        while last > p and (b[last - 1] == 32 or b[last - 1] == 9 or b[last - 1] == 13):
            last -= 1
        if last <= p:
            continue
        if e - s > max_line or b[p] != 123 or b[last - 1] != 125:
            flagged.append((line, s))
            continue
        flag = False
        while not flag:
            p = bulwark_quote_or_backslash(b, p, last)
            if p >= last:
                break
            if b[p] == 92:  # a backslash outside a string: not JSON the filter reads
                flag = True
                break
            a = p + 1
            z = _string_end(b, a, last)
            if z < 0:
                flag = True
                break
            p = _skip_ws(b, z + 1, last)
            if p >= last or b[p] != 58:  # not a key
                continue
            klen = z - a
            key = -1
            if klen >= NAME_MAX or not key_length[klen]:
                continue
            for k in range(nkeys):
                if (klen == full_len[k] and memcmp(b + a, full_ptr[k], klen) == 0) or (
                    klen == leaf_len[k] and memcmp(b + a, leaf_ptr[k], klen) == 0
                ):
                    key = k
                    break
            p = _skip_ws(b, p + 1, last)
            if key < 0 or p >= last:
                continue
            if b[p] != 34 and b[p] != 91:
                continue  # not a string or a list: nothing to read
            listed = b[p] == 91  # a list: its string items
            if listed:
                p += 1
            while not flag:
                if listed:
                    p = _skip_ws(b, p, last)
                    if p >= last or b[p] != 34:
                        break
                z = _string_end(b, p + 1, last)
                if z < 0:
                    flag = True
                    break
                verdict = _cached_value(
                    &t, key, kind_of[key], b + p + 1, z - p - 1, last_ptr, last_len, last_verdict
                )
                if verdict == 1:
                    flag = True
                elif verdict < 0:
                    others.append((key, PyBytes_FromStringAndSize(<const char *> (b + p + 1), z - p - 1), line, s))
                p = z + 1
                if not listed:
                    break
                p = _skip_ws(b, p, last)
                if p < last and b[p] == 44:
                    p += 1
        if flag:
            flagged.append((line, s))
    return line + 1, flagged, others
