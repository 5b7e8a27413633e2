"""Memory over HTTP: chats with a `user` are remembered for that user only, and forgettable."""

from __future__ import annotations

import httpx

from tests.serve.conftest import Live


def _memories(live: Live, user: str) -> list[dict]:
    response = httpx.get(f"{live.url}/memories", params={"user": user})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_users_facts_are_kept_recalled_and_forgotten(live_factory) -> None:
    live = live_factory()
    say = live.client.chat.completions.create
    say(
        model="echo", user="ann", messages=[{"role": "user", "content": "My cat is called Bublik."}]
    )
    facts = _memories(live, "ann")
    assert [f["text"] for f in facts] == ["My cat is called Bublik."]
    assert _memories(live, "bob") == []  # another user sees nothing, and is not an error

    # Recalled into ann's next prompt (EchoBackend answers with the prompt's last message).
    echoed = say(model="echo", user="ann", messages=[{"role": "user", "content": "cat name?"}])
    assert "Bublik" in echoed.choices[0].message.content
    other = say(model="echo", user="bob", messages=[{"role": "user", "content": "cat name?"}])
    assert "Bublik" not in other.choices[0].message.content
    off = say(
        model="echo",
        user="ann",
        messages=[{"role": "user", "content": "cat name?"}],
        extra_body={"memory": False},
    )
    assert "Bublik" not in off.choices[0].message.content

    fact_id = facts[0]["id"]
    wrong_user = httpx.delete(f"{live.url}/memories/{fact_id}", params={"user": "bob"})
    assert wrong_user.status_code == 404
    gone = httpx.delete(f"{live.url}/memories/{fact_id}", params={"user": "ann"})
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert _memories(live, "ann") == []


def test_streamed_turns_are_remembered_too(live_factory) -> None:
    live = live_factory()
    stream = live.client.chat.completions.create(
        model="echo",
        user="cid",
        stream=True,
        messages=[{"role": "user", "content": "I prefer green tea."}],
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert [f["text"] for f in _memories(live, "cid")] == ["I prefer green tea."]


def test_bad_memory_requests_are_4xx(live_factory) -> None:
    live = live_factory()
    assert httpx.get(f"{live.url}/memories").status_code == 400  # no user
    assert httpx.get(f"{live.url}/memories", params={"user": ""}).status_code == 400
    bad_id = httpx.delete(f"{live.url}/memories/abc", params={"user": "ann"})
    assert bad_id.status_code == 400 and bad_id.json()["error"]["param"] == "memory_id"
    assert httpx.delete(f"{live.url}/memories/99", params={"user": "ann"}).status_code == 400
    unknown = httpx.delete(f"{live.url}/memories/mem_0123456789abcdef", params={"user": "ann"})
    assert unknown.status_code == 404


def test_a_secret_is_masked_over_http_and_withheld_from_the_turns(live_factory) -> None:
    live = live_factory()
    say = live.client.chat.completions.create
    said = [{"role": "user", "content": "Remember that my door code is 4711."}]
    say(model="echo", user="ann", messages=said)
    say(model="echo", user="ann", messages=[{"role": "user", "content": "My PIN is 4821."}])
    facts = _memories(live, "ann")
    assert [(f["text"], f["secret"]) for f in facts] == [("my door code is [secret].", True)]
    # Recalled into ann's own prompt: she asked for it to be remembered.
    echoed = say(model="echo", user="ann", messages=[{"role": "user", "content": "door code?"}])
    assert "4711" in echoed.choices[0].message.content
    turns = " ".join(t["text"] for t in live.engine.export_memories("ann")["turns"])
    assert "4711" not in turns and "4821" not in turns and "[withheld: a secret]" in turns
