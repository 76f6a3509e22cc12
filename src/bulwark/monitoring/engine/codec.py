"""Log batches as Zstandard frames: how `bulwark monitor publish` sends them through NATS
and how the archive keeps them.

Zeek and Suricata JSON shrink about 8x at level 1 (800 MB/s to compress, 3.5 GB/s to
inflate on this machine with python-zstandard), so a stream and an archive carry an
eighth of the bytes, and a worker that used to spend more time writing the archive and
parsing NATS frames than matching now spends most of it matching. One frame per batch;
a frame that would inflate beyond `MAX_INFLATED` is refused, not inflated (a 1 MB
message can hold gigabytes).
"""

import threading

import zstandard

ENCODING = "zstd"  # the Bulwark-Encoding header's value for a compressed batch
LEVEL = 1
MAX_INFLATED = 64 * 1024 * 1024  # a batch's largest accepted size once inflated
ARCHIVE_SUFFIX = ".log.zst"
MAGIC = b"\x28\xb5\x2f\xfd"  # a Zstandard frame's first four bytes
UNKNOWN_SIZE = -1  # zstandard.frame_content_size of a frame that does not declare it


class BatchDecodeError(ValueError):
    """A compressed batch that is damaged, not one Zstandard frame, or too large inflated."""


_local = threading.local()  # python-zstandard's contexts are not for concurrent use


def _decompressor() -> zstandard.ZstdDecompressor:
    found = getattr(_local, "decompressor", None)
    if found is None:
        found = _local.decompressor = zstandard.ZstdDecompressor()
    return found


def compress(data: bytes) -> bytes:
    """One frame that declares its inflated size (what `inflate` checks first)."""
    return zstandard.ZstdCompressor(level=LEVEL).compress(data)


def inflate(payload: bytes, limit: int = MAX_INFLATED) -> bytes:
    """The batch inside one Zstandard frame, refused when damaged, followed by other
    bytes, or larger than `limit` inflated. A frame that declares its size (ours always
    do) is refused on that before anything is inflated, and is inflated straight into a
    buffer of that size; one that does not is inflated into at most `limit` + 1 bytes."""
    if len(payload) < len(MAGIC) or (
        not payload.startswith(MAGIC) and MAGIC.startswith(payload[: len(MAGIC)])
    ):
        raise BatchDecodeError("the Zstandard frame is truncated")
    try:
        size = zstandard.frame_content_size(payload)
    except zstandard.ZstdError as exc:
        if payload.startswith(MAGIC):  # a header cut short
            raise BatchDecodeError("the Zstandard frame is truncated") from None
        raise BatchDecodeError(f"not a valid Zstandard frame: {exc}") from None
    if size > limit:
        raise BatchDecodeError(f"the batch inflates beyond {limit:,} bytes")
    try:
        data = _decompressor().decompress(
            payload, max_output_size=limit + 1, allow_extra_data=False
        )
    except zstandard.ZstdError as exc:
        message = str(exc)
        if "unused data" in message:
            raise BatchDecodeError("bytes follow the Zstandard frame") from None
        if "did not decompress full frame" in message:
            if size == UNKNOWN_SIZE:
                raise BatchDecodeError(
                    f"the Zstandard frame is truncated or inflates beyond {limit:,} bytes"
                ) from None
            raise BatchDecodeError("the Zstandard frame is truncated") from None
        raise BatchDecodeError(f"not a valid Zstandard frame: {message}") from None
    if len(data) > limit:
        raise BatchDecodeError(f"the batch inflates beyond {limit:,} bytes")
    return data
