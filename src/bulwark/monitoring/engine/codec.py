"""Log batches as Zstandard frames: how `bulwark monitor publish` sends them through NATS
and how the archive keeps them.

Zeek and Suricata JSON shrink about 8x at level 1 (800 MB/s to compress, 1.2 GB/s to
inflate on this machine), so a stream and an archive carry an eighth of the bytes, and a
worker that used to spend more time writing the archive and parsing NATS frames than
matching now spends most of it matching. One frame per batch; a frame that would inflate
beyond `MAX_INFLATED` is refused, not inflated (a 1 MB message can hold gigabytes).
"""

import sys

if sys.version_info >= (3, 14):
    from compression import zstd
else:  # the backport of the 3.14 standard-library module, same API
    from backports import zstd

ENCODING = "zstd"  # the Bulwark-Encoding header's value for a compressed batch
LEVEL = 1
MAX_INFLATED = 64 * 1024 * 1024  # a batch's largest accepted size once inflated
ARCHIVE_SUFFIX = ".log.zst"


class BatchDecodeError(ValueError):
    """A compressed batch that is damaged, not one Zstandard frame, or too large inflated."""


def compress(data: bytes) -> bytes:
    return zstd.compress(data, LEVEL)


def inflate(payload: bytes, limit: int = MAX_INFLATED) -> bytes:
    """The batch inside one Zstandard frame, refused when damaged, followed by other
    bytes, or larger than `limit` inflated."""
    decompressor = zstd.ZstdDecompressor()
    try:
        data = decompressor.decompress(payload, max_length=limit + 1)
    except zstd.ZstdError as exc:
        raise BatchDecodeError(f"not a valid Zstandard frame: {exc}") from None
    if len(data) > limit:
        raise BatchDecodeError(f"the batch inflates beyond {limit:,} bytes")
    if not decompressor.eof:
        raise BatchDecodeError("the Zstandard frame is truncated")
    if decompressor.unused_data:
        raise BatchDecodeError("bytes follow the Zstandard frame")
    return data
