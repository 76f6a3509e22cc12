"""Files attached to an advisory before it is sent."""

import hashlib
import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from bulwark.advisories.models import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    Advisory,
    Attachment,
    Status,
)
from bulwark.constituency.models import (
    User,
)
from bulwark.core import audit
from bulwark.core.permissions import require

SAFE_NAME = re.compile(r"[^\w.\- ]+")


def add_attachment(
    actor: User, advisory: Advisory, *, name: str, content_type: str, data: bytes
) -> Attachment:
    require(actor, "advisory.write")
    if advisory.status == Status.SENT:
        raise ValidationError(_("Attachments are added before the advisory is sent."))
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            {
                "file": _("The file is %(size)d bytes; the limit is %(limit)d bytes.")
                % {"size": len(data), "limit": MAX_ATTACHMENT_BYTES}
            }
        )
    if not data:
        raise ValidationError({"file": _("The file is empty.")})
    safe = SAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip()[:200] or "file"
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=advisory.pk)
        if advisory.attachments.count() >= MAX_ATTACHMENTS:
            raise ValidationError(
                {"file": _("At most %(n)d attachments per advisory.") % {"n": MAX_ATTACHMENTS}}
            )
        attachment = Attachment.objects.create(
            advisory=advisory,
            name=safe,
            content_type=(content_type or "application/octet-stream")[:100],
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
        )
        if advisory.status != Status.DRAFT:
            advisory.status, advisory.approved_by, advisory.approved_at = Status.DRAFT, None, None
            advisory.save()
        audit.record(
            actor,
            "advisory.attachment_added",
            advisory,
            changes={"name": safe, "size": len(data), "sha256": attachment.sha256},
        )
        return attachment
