"""Paging of every API list: `limit` and `offset` are checked, not trusted."""

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from bulwark.core.params import MAX_ROW_ID, whole_number


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's class reads `limit` and `offset` with `int()`: "¹" raised ValueError, and a
    limit or offset of 2**63 or more overflowed SQLite's and PostgreSQL's integers (500s),
    while a negative or non-numeric one was silently replaced. Here anything but a whole
    number in range answers 400 naming the parameter; limits above `max_limit` are cut."""

    max_limit = 1000

    def get_limit(self, request: Request) -> int | None:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None or raw == "":
            return self.default_limit
        value = whole_number(raw)
        if value is None or value < 1:
            raise ValidationError(
                {self.limit_query_param: [
                    _("Enter a whole number from 1 to %(max)d.") % {"max": self.max_limit}
                ]}
            )  # fmt: skip
        return min(value, self.max_limit)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw is None or raw == "":
            return 0
        value = whole_number(raw, maximum=MAX_ROW_ID - self.max_limit)
        if value is None:
            raise ValidationError(
                {self.offset_query_param: [
                    _("Enter a whole number from 0 to %(max)d.")
                    % {"max": MAX_ROW_ID - self.max_limit}
                ]}
            )  # fmt: skip
        return value

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.limit_query_param:
                param["schema"].update({"minimum": 1, "maximum": self.max_limit})
            elif param["name"] == self.offset_query_param:
                param["schema"].update({"minimum": 0, "maximum": MAX_ROW_ID - self.max_limit})
        return params
