"""The `MODEL[@URL][+rag][+lora:NAME][+memory]` grammar, with one clear error per bad spec."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outweigh.errors import InputError
from outweigh.eval.spec import ConfigSpec, parse_spec, parse_specs


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("smollm2-135m", ConfigSpec("smollm2-135m")),
        ("smollm2-135m+rag", ConfigSpec("smollm2-135m", rag=True)),
        ("smollm2-135m+lora:signoff", ConfigSpec("smollm2-135m", adapter="signoff")),
        ("gemma3-270m+memory", ConfigSpec("gemma3-270m", memory=True)),
        ("smollm2-135m+rag+lora:signoff+memory", ConfigSpec("smollm2-135m", True, "signoff", True)),
        ("smollm2-135m+memory+lora:x.y_2+RAG", ConfigSpec("smollm2-135m", True, "x.y_2", True)),
        ("  org/model+rag ", ConfigSpec("org/model", rag=True)),
        (
            "Qwen/Qwen2.5-32B@http://gpu:8000/v1/+lora:support+rag",
            ConfigSpec("Qwen/Qwen2.5-32B", True, "support", endpoint="http://gpu:8000/v1"),
        ),
        (
            "llama3:8b@https://h.example/v1",
            ConfigSpec("llama3:8b", endpoint="https://h.example/v1"),
        ),
    ],
)
def test_parses(text: str, spec: ConfigSpec) -> None:
    assert parse_spec(text) == spec


def test_canonical_form_round_trips() -> None:
    spec = parse_spec("m+memory+lora:a+rag")
    assert str(spec) == "m+rag+lora:a+memory"
    assert parse_spec(str(spec)) == spec


@given(
    model=st.from_regex(r"[a-z][a-z0-9.-]{0,12}", fullmatch=True),
    rag=st.booleans(),
    adapter=st.none() | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,10}", fullmatch=True),
    memory=st.booleans(),
    endpoint=st.none()
    | st.from_regex(r"https?://[a-z0-9.-]{1,12}(:[0-9]{2,5})?(/v1)?", fullmatch=True),
)
def test_any_spec_round_trips(
    model: str, rag: bool, adapter: str | None, memory: bool, endpoint: str | None
) -> None:
    spec = ConfigSpec(model, rag, adapter, memory, endpoint)
    assert parse_spec(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty --config"),
        ("   ", "empty --config"),
        ("+rag", "no model"),
        ("smollm2-135m+", "empty part"),
        ("smollm2-135m++rag", "empty part"),
        ("smollm2-135m+rag+rag", "'rag' twice"),
        ("smollm2-135m+lora:a+lora:b", "'lora' twice"),
        ("smollm2-135m+lora", "needs an adapter name"),
        ("smollm2-135m+lora:", "needs an adapter name"),
        ("smollm2-135m+lora:../../etc", "invalid adapter name"),
        ("smollm2-135m+rag:5", "unknown part 'rag:5'"),
        ("smollm2-135m+retrieval", "unknown part 'retrieval'"),
        ("smol lm+rag", "has a space"),
    ],
)
def test_bad_specs_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(InputError) as err:
        parse_spec(text)
    message = str(err.value)
    assert says in message
    assert "\n" not in message


def test_unknown_parts_name_the_valid_ones() -> None:
    with pytest.raises(InputError, match=r"use rag, lora:NAME or memory"):
        parse_spec("m+lorra:x")


def test_spec_lists() -> None:
    assert [str(s) for s in parse_specs(["a", "a+rag"])] == ["a", "a+rag"]
    with pytest.raises(InputError, match="at least one --config"):
        parse_specs([])
    with pytest.raises(InputError, match="given twice"):
        parse_specs(["a+rag+memory", "a+memory+rag"])
