"""Names and ids: matched whole, so a trailing newline or a control character never passes."""

from __future__ import annotations

import pytest

from outweigh.errors import InputError, echo
from outweigh.models.catalog import resolve
from outweigh.models.options import LoadOptions
from outweigh.names import check_adapter_name, check_name, check_session, check_user
from outweigh.retrieval.uploads import check_filename
from outweigh.retrieval.vectors.qdrant import parse_spec


@pytest.mark.parametrize("name", ["docs\n", "docs\r\n", "\ndocs", "do\ncs", "docs\x00", ""])
def test_a_collection_name_with_a_newline_or_nul_is_refused(name):
    with pytest.raises(InputError, match="invalid collection name") as e:
        check_name(name)
    assert "\n" not in str(e.value)


def test_adapter_names_are_matched_whole_too():
    assert check_adapter_name("style-v2") == "style-v2"
    with pytest.raises(InputError, match="invalid adapter name 'style\\\\n'"):
        check_adapter_name("style\n")


def test_a_long_name_is_quoted_short_in_its_error():
    with pytest.raises(InputError) as e:
        check_name("x" * 5000 + "!")
    assert len(str(e.value)) < 200 and "5,001 characters" in str(e.value)
    assert echo("ab") == "'ab'"


@pytest.mark.parametrize(
    "session", ["s\x00", "s\x1b[31m", "s\nQuestion: hi", "s\u202e", "s\x7f", "s\u2028t", "s\u2029t"]
)
def test_a_session_with_control_characters_is_refused_like_a_user(session):
    with pytest.raises(InputError, match="the session id contains control characters"):
        check_session(session)
    with pytest.raises(InputError, match="the user id contains control characters"):
        check_user(session)


def test_plain_sessions_pass_and_keep_their_rules():
    assert check_session(None) is None
    assert check_session("  monday  ") == "monday"
    assert check_session("сессия 1") == "сессия 1"
    with pytest.raises(InputError, match="1-256 printable characters"):
        check_session("x" * 257)
    with pytest.raises(InputError, match="not valid Unicode"):
        check_session("s\ud800")


def test_other_whole_string_validators():
    with pytest.raises(InputError, match="invalid file name"):
        check_filename("notes.md\n")
    assert check_filename("notes.md") == "notes.md"
    with pytest.raises(InputError, match="unknown `--device`"):
        LoadOptions(device="cuda:0\n").validate()
    LoadOptions(device="cuda:0").validate()
    with pytest.raises(InputError, match="bad prefix"):
        parse_spec("qdrant::memory:?prefix=ow%0A")
    with pytest.raises(Exception, match="unknown model"):
        resolve("org/name\n")
