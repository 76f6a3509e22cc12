"""Traffic Light Protocol 2.0: levels, STIX marking ids and the TLP 1.0 alias table.

Pure module (no Django import) so that parsers and exporters can use it on hot paths.
"""

from enum import IntEnum


class TLP(IntEnum):
    """Ordered from least to most restricted, so `max()` gives the stricter marking."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        return "TLP:" + self.name.replace("_", "+")


STIX_MARKING_IDS: dict[TLP, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

# TLP 1.0 STIX ids still emitted by other tools.
_TLP1_ALIASES = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,  # WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
}
_BY_ID = {v: k for k, v in STIX_MARKING_IDS.items()} | _TLP1_ALIASES
_BY_NAME = {
    "clear": TLP.CLEAR,
    "white": TLP.CLEAR,
    "green": TLP.GREEN,
    "amber": TLP.AMBER,
    "amber+strict": TLP.AMBER_STRICT,
    "amber-strict": TLP.AMBER_STRICT,
    "amber_strict": TLP.AMBER_STRICT,
    "red": TLP.RED,
}


def parse_tlp(value: str) -> TLP:
    """Accept a TLP 2.0 or 1.0 STIX marking id, or a name such as 'TLP:AMBER+STRICT'."""
    text = value.strip()
    if text.lower().startswith("marking-definition--"):
        try:
            return _BY_ID[text.lower()]
        except KeyError:
            raise ValueError(f"unknown TLP marking id: {text}") from None
    name = text.lower().removeprefix("tlp:").strip()
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown TLP level: {text!r}") from None
