"""Domain-name helpers: the registered domain (public suffix list, tldextract's bundled
snapshot: no network) and character statistics of names."""

import math
from collections import Counter
from functools import lru_cache

import tldextract

# suffix_list_urls=() and cache_dir=None: the snapshot shipped inside the pinned
# tldextract release, never a download at run time.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
VOWELS = frozenset("aeiouy")


TAIL = 5  # tails of up to this many labels are looked up (longer names: the full name)


def _hidden() -> frozenset[str]:
    """Names of two or more labels that are not a public suffix rule themselves but lie
    under one (`kawasaki.jp` under `*.kawasaki.jp`, `nordland.no` under
    `bo.nordland.no`): under them a tail cannot tell the registered domain."""
    extractor = _EXTRACT._get_tld_extractor()
    rules = {r.lstrip("!") for r in [*extractor.public_tlds, *extractor.private_tlds]}
    hidden = {r[2:] for r in rules if r.startswith("*.")}  # the wildcards' bases
    for rule in rules:
        labels = rule.split(".")
        if labels[0] == "*":
            labels = labels[1:]
            if ".".join(labels) not in rules:
                hidden.add(".".join(labels))
        for i in range(1, len(labels) - 1):
            parent = ".".join(labels[i:])
            if parent not in rules:
                hidden.add(parent)
    return frozenset(hidden)


_HIDDEN = _hidden()
_EXTRACTOR = _EXTRACT._get_tld_extractor()
_RULES = frozenset(r.lstrip("!") for r in [*_EXTRACTOR.public_tlds, *_EXTRACTOR.private_tlds])


def split_name(name: str) -> tuple[str, str, str]:
    """(sub-domain, registered domain, public suffix); an unlisted suffix (corp.local)
    takes the last two labels as the registered domain. Tunnels and DGA bursts query
    thousands of names under one domain: the shortest tail that is exactly a registered
    domain (cached) decides, which is what the public suffix list gives for the whole
    name unless the tail is one of _HIDDEN (then the whole name is looked up)."""
    labels = name.split(".")
    if len(labels) == 2 and labels[0]:
        tld = labels[1]
        if tld in _RULES and tld not in _HIDDEN and name not in _RULES and name not in _HIDDEN:
            return "", name, tld
    for k in range(2, min(len(labels), TAIL + 1)):
        tail = ".".join(labels[-k:])
        if tail in _HIDDEN:
            break
        sub, registered, suffix = _split(tail)
        if sub:
            break
        if registered == tail and suffix and suffix not in _HIDDEN and _listed(tail):
            return ".".join(labels[:-k]), registered, suffix
    return _split(name)


@lru_cache(maxsize=1 << 16)
def _listed(name: str) -> bool:
    ext = _EXTRACT(name)
    return bool(ext.suffix and ext.domain)


@lru_cache(maxsize=1 << 18)
def _split(name: str) -> tuple[str, str, str]:
    ext = _EXTRACT(name)
    if ext.suffix and ext.domain:
        return ext.subdomain, f"{ext.domain}.{ext.suffix}", ext.suffix
    labels = name.split(".")
    if len(labels) >= 2:
        return ".".join(labels[:-2]), ".".join(labels[-2:]), labels[-1]
    return "", name, ""


def entropy(text: str) -> float:
    """Shannon entropy of the characters, bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def randomness(label: str) -> float:
    """0-1: how machine-generated a label looks (length, entropy, digits mixed in,
    consonant runs, few vowels). Dictionary words and short labels score low."""
    if len(label) < 6:
        return 0.0
    letters = [c for c in label if c.isalpha()]
    digits = sum(c.isdigit() for c in label)
    vowels = sum(c in VOWELS for c in letters)
    run = best = 0
    for c in label:
        run = run + 1 if c.isalpha() and c not in VOWELS else 0
        best = max(best, run)
    parts = [
        min(1.0, max(0.0, (entropy(label) - 2.5) / 1.2)),
        min(1.0, max(0.0, (len(label) - 7) / 8)),
        min(1.0, best / 5),
        1.0 if letters and vowels / len(letters) < 0.25 else 0.0,
        1.0 if 0 < digits < len(label) and letters else 0.0,
    ]
    return 0.3 * parts[0] + 0.2 * parts[1] + 0.25 * parts[2] + 0.1 * parts[3] + 0.15 * parts[4]
