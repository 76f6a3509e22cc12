"""A plain list or CSV shared into a collection may carry defanged values, as analysts copy
them from reports (issue 18): they are read as what they stand for; a value valid as typed
keeps every byte."""

from bulwark.intel.sharing import rows_from_text


def test_plain_list_and_csv_read_defanged_values() -> None:
    found, refused = rows_from_text(
        "hxxp://evil[.]example/login\n198.51.100[.]9\nnot a value at all\n", "plain"
    )
    assert dict((v, k) for k, v in found) == {
        "http://evil.example/login": "url",
        "198.51.100.9": "ipv4",
    }
    assert [r["id"] for r in refused] == ["line 3"]
    found, refused = rows_from_text("type,value\ndomain,evil[.]example\n", "csv")
    assert (found, refused) == ([("domain", "evil.example")], [])
