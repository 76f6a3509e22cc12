"""The platform's current indicators as engine input: the intelligence store's detection
values (when the intel app provides them) and the indicators reported with incidents."""

from collections.abc import Iterator

from bulwark.monitoring.engine.indicators import Indicator, from_typed


def _score(value: float | int | None) -> int | None:
    if value is None:
        return None
    number = float(value)
    return round(number * 100) if 0 < number <= 1 else round(number)


def platform_indicators(include_decayed: bool = False) -> Iterator[Indicator]:
    try:
        from bulwark.intel.selectors import detection_values
    except ImportError:
        detection_values = None  # type: ignore[assignment]
    if detection_values is not None:
        for kind, value, ident, score in detection_values(include_decayed=include_decayed):
            ind = from_typed(kind, value, str(ident), _score(score))
            if ind is not None:
                yield ind
    from bulwark.incidents.models import IncidentIndicator

    rows = IncidentIndicator.objects.values_list("kind", "value", "incident__reference")
    for kind, value, reference in rows.iterator(chunk_size=5000):
        ind = from_typed(kind, value, f"incident:{reference}", None)
        if ind is not None:
            yield ind
