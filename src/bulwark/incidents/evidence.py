"""Evidence: files kept exactly as received, under their SHA-256, with a chain of custody.

This module stores and reads the files; the records (evidence, custody events, the audit
entries) are written by `incidents.services.evidence` only. The stored name is the
content hash, never the uploader's file name, so a name like `../../etc/passwd` is only
ever shown, never used as a path.
"""

import hashlib
import unicodedata
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.utils.translation import gettext as _

CHUNK = 1024 * 1024


def storage() -> FileSystemStorage:
    return FileSystemStorage(location=settings.MEDIA_ROOT, file_permissions_mode=0o440)


def display_name(raw: str) -> str:
    """The uploader's name, for display only: last path part, no control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return (name or "unnamed")[:255]


def hash_upload(upload: IO[bytes], limit: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    upload.seek(0)
    while chunk := upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise ValidationError(
                {"file": _("The file is larger than %(n)d bytes.") % {"n": limit}}
            )
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


class StoredFileMissing(Exception):
    """A stored evidence file or referral package is gone from BULWARK_MEDIA_DIR (a
    restore without the files, a deleted file); the message says which."""


def open_stored(name: str, what: str) -> IO[bytes]:
    try:
        return storage().open(name, "rb")
    except FileNotFoundError:
        raise StoredFileMissing(
            _("The stored file of this %(what)s is missing; ask the platform operator to "
              "restore %(name)s from the backup.") % {"what": what, "name": name}
        ) from None  # fmt: skip
