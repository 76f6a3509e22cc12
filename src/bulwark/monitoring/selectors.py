"""Reads of monitoring records shared by the pages and the API: the alerts and sightings
a user may read, with the related rows their lists show, and an alert's sightings."""

from django.db.models import QuerySet

from bulwark.core.permissions import Reader
from bulwark.monitoring.models import Alert, LogSighting


def alerts(user: Reader) -> QuerySet[Alert]:
    """The alerts `user` may read, with their agency and promoted incident."""
    return Alert.objects.visible_to(user).select_related("organisation", "incident")


def sightings(user: Reader) -> QuerySet[LogSighting]:
    """The sightings `user` may read, with their agency."""
    return LogSighting.objects.visible_to(user).select_related("organisation")


def sightings_of(user: Reader, alert: Alert) -> QuerySet[LogSighting]:
    """The hourly sightings behind `alert` (same agency and indicator) that `user` may read."""
    return LogSighting.objects.visible_to(user).filter(
        organisation_id=alert.organisation_id,
        indicator_type=alert.indicator_type,
        indicator=alert.indicator,
    )
